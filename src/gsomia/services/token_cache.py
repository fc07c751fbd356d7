"""Officials whose token was checked a moment ago: their next request within TTL_S skips the register
lookup (and, in the API, the worker-thread hop that lookup needs, about 1 ms of CPU per request).

Bounds, stated plainly: a change to the register made through this process (appointment, update,
suspension, revocation, a token issued) empties the cache at once; a change made by another process
(the CLI beside a running server) takes effect within TTL_S. Clearance expiry is checked on every hit.
Only successful authentications are kept; a failure always goes to the register and is audited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from weakref import WeakKeyDictionary

from gsomia.domain.officials import Official
from gsomia.storage import Store

TTL_S = 1.0
MAX_ENTRIES = 10_000


class TokenCache:
    def __init__(self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.clock = ttl_s, clock
        self._entries: dict[str, tuple[Official, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Official | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if self.clock() - entry[1] > self.ttl_s:
                del self._entries[digest]
                return None
            return entry[0]

    def put(self, digest: str, official: Official) -> None:
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (official, self.clock())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_CACHES: WeakKeyDictionary[Store, TokenCache] = WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_of(store: Store) -> TokenCache:
    """One cache per node store (two nodes in one process never share one)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(store)
        if cache is None:
            cache = _CACHES[store] = TokenCache()
        return cache
