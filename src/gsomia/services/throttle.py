"""Failed authentications, throttled per caller address so that nobody can guess tokens at speed or grow
the audit trail by sending bad ones (R7.2), without locking out the officials who share that address.

- A credential not known to have worked from this address takes one slot of the address's budget
  (`limits`' moving window, MAX_FAILURES a WINDOW_S) BEFORE it is looked up; with no slot left it is
  refused (429) without a lookup. Taking a slot is one atomic hit, so a concurrent burst of bad tokens
  gets exactly the budget's lookups (each audited), and every other attempt is refused.
- A credential that authenticated from an address is known there (bounded, for KNOWN_FOR_S): it is
  looked up without taking a slot, so a valid official keeps working while someone at the same address
  is throttled. A valid token never seen from that address does take a slot: behind a shared NAT
  address under attack, a new official waits for the window to slide.
- Attempts refused past the budget are audited in aggregate — one entry when the address is first
  turned away, then one per AGGREGATE_S while refusals go on, each with its count — never one each.

The caller's address is the TCP peer's: proxy headers are believed only from the addresses the node's
settings name (`trusted_proxies`, none by default), which the listener applies. The budgets live where the
node's `throttle_storage` says (a `limits` storage URI): in this process's memory by default, or in a Redis
server (`redis://host:port`) that the workers of a node (`gsomia serve --workers N`) share, so that an
address gets the one budget whichever worker it reaches. The credentials known at an address and the
refusals awaiting their aggregate entry stay in each process.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.errors import ConfigurationError
from limits.storage import MovingWindowSupport, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from gsomia.services.errors import ServiceError

MAX_FAILURES = 20
WINDOW_S = 60
KNOWN_FOR_S = 3600.0
AGGREGATE_S = 60.0
MAX_KNOWN = 10_000  # (address, credential) pairs remembered as good


class TooManyFailures(ServiceError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed authentications from this address: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Refusals:
    """Attempts refused at one address since the last audit entry about it."""

    address: str
    count: int
    first: bool  # the address has just been turned away (the first entry of this spell of refusals)


class ThrottleStorageError(ServiceError):
    """The throttle's storage URI names nothing `limits` can use."""


class FailedAuthentications:
    def __init__(self, max_failures: int = MAX_FAILURES, window_s: int = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic, *, storage: str = "memory://",
                 key_prefix: str = "gsomia") -> None:
        """`storage`: a `limits` storage URI (memory://, redis://host:port); `key_prefix` keeps apart the
        nodes that share one server."""
        self.max_failures, self.window_s, self.clock = max_failures, window_s, clock
        self._budget = RateLimitItemPerSecond(max_failures, window_s)
        try:
            shared = storage_from_string(storage, key_prefix=key_prefix) if storage.startswith("redis") \
                else storage_from_string(storage)
        except (ConfigurationError, ValueError) as bad:
            raise ThrottleStorageError(f"throttle_storage {storage!r}: {bad}") from None
        if not isinstance(shared, MovingWindowSupport):
            raise ThrottleStorageError(f"throttle_storage {storage!r} cannot keep moving windows")
        self._limiter = MovingWindowRateLimiter(shared)
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._refused: dict[str, tuple[int, float]] = {}  # address → (refused since the last entry, its time)
        self._lock = threading.Lock()

    def admit(self, address: str, credential: str) -> None:
        """Before looking `credential` (a digest) up: free for one known at `address`, else a slot of the
        address's budget; TooManyFailures when none is left."""
        with self._lock:
            seen = self._known.get((address, credential))
            if seen is not None and self.clock() - seen < KNOWN_FOR_S:
                return
        if self._limiter.hit(self._budget, address):
            return
        reset, _ = self._limiter.get_window_stats(self._budget, address)
        with self._lock:
            if len(self._refused) >= MAX_KNOWN and address not in self._refused:
                self._refused = {a: r for a, r in self._refused.items() if r[0]}  # drop the audited ones
            count, audited = self._refused.get(address, (0, -math.inf))
            self._refused[address] = (count + 1, audited)
        raise TooManyFailures(max(1, math.ceil(reset - time.time())))

    def succeeded(self, address: str, credential: str) -> None:
        with self._lock:
            self._known[(address, credential)] = self.clock()
            self._known.move_to_end((address, credential))
            while len(self._known) > MAX_KNOWN:
                self._known.popitem(last=False)

    def refusals_to_audit(self, address: str) -> Refusals | None:
        """The refusals at `address` due for their aggregate audit entry: the first at once, then at most
        one entry per AGGREGATE_S; None when none is due."""
        with self._lock:
            count, audited = self._refused.get(address, (0, -math.inf))
            now = self.clock()
            first = now - audited > self.window_s + AGGREGATE_S  # no entry about it lately: a new spell
            if not count or (not first and now - audited < AGGREGATE_S):
                return None
            self._refused[address] = (0, now)
            return Refusals(address, count, first)
