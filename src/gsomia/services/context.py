"""What every use case is given: the store, the node's party, the schemes, a clock, an acting official."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from gsomia.data import load_catalog
from gsomia.domain.officials import Official
from gsomia.domain.schemes import Schemes
from gsomia.storage.unit_of_work import Store


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ContentSealer(Protocol):
    """Binds content to its label; the crypto layer's implementation plugs in here."""

    def seal(self, label_bytes: bytes, plaintext: bytes) -> bytes: ...

    def open(self, label_bytes: bytes, blob: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated official and the channel they came through (recorded in every audit entry)."""

    official: Official
    via: str  # cli-local | cli-token | api | node


@dataclass(frozen=True, slots=True)
class NodeContext:
    store: Store
    party: str
    schemes: Schemes
    clock: Callable[[], datetime] = field(default=utc_now)


def load_schemes() -> Schemes:
    """The shipped classification schemes (plus GSOMIA_EXTRA_DATA), from the lead's catalogue."""
    return load_catalog().schemes
