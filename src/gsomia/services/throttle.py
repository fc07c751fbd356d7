"""Failed authentications, counted per caller address: after too many in a short while the caller is
turned away without a register lookup or an audit entry per attempt, so that nobody can guess tokens
at speed or grow the audit trail by sending bad ones (R7.2). The moment a caller is throttled is
audited once per window. Counts live in the process's memory and reset when it restarts.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from gsomia.services.errors import ServiceError

MAX_FAILURES = 20
WINDOW_S = 60.0
MAX_CALLERS = 10_000


class TooManyFailures(ServiceError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed authentications from this address: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class FailedAuthentications:
    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s, self.clock = max_failures, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, caller: str) -> None:
        """TooManyFailures while `caller` has MAX_FAILURES failures within the window."""
        with self._lock:
            recent = self._recent(caller)
            if len(recent) >= self.max_failures:
                raise TooManyFailures(max(1, int(recent[0] + self.window_s - self.clock()) + 1))

    def failed(self, caller: str) -> bool:
        """Count a failure; True when this one makes the caller throttled (the moment to audit)."""
        with self._lock:
            if len(self._failures) >= MAX_CALLERS and caller not in self._failures:
                self._failures = {k: v for k, v in self._failures.items() if self._recent(k)}
            recent = self._recent(caller)
            recent.append(self.clock())
            return len(recent) == self.max_failures

    def _recent(self, caller: str) -> deque[float]:
        recent = self._failures.setdefault(caller, deque())
        while recent and self.clock() - recent[0] > self.window_s:
            recent.popleft()
        return recent
