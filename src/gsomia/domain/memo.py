"""A typed, bounded memo for facts derived from the catalogue (agreement statuses, the policy's answers).

Each fact is a pure function of the catalogue and its key, so a memo is right for as long as the
catalogue is unchanged; `Catalog.forget()` empties them all when it changes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most `limit` entries; emptied when full. An LRU's bookkeeping on every hit would cost more than
    refilling: the policy's working set (a few parties, levels and days) comes back within a few calls."""

    __slots__ = ("_entries", "_limit", "get")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a cache holds at least one entry")
        self._entries: dict[K, V] = {}
        self._limit = limit
        # The dict's own lookup, bound once: the policy asks on every decision, and a method wrapping
        # it would add a call to each.
        self.get: Callable[[K], V | None] = self._entries.get

    def put(self, key: K, value: V) -> V:
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[key] = value
        return value

    def clear(self) -> None:
        self._entries.clear()  # the same dict: `get` stays bound to it

    def __len__(self) -> int:
        return len(self._entries)
