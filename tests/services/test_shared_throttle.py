"""R7.2 across the workers of one node: with `throttle_storage = "redis://…"` the failed-authentication
budget of an address is one, whichever worker (here: whichever FailedAuthentications) the attempts reach,
and a concurrent burst spread over the workers gets exactly the budget. Against the Redis server on
loopback; under CI it must be there (.ci/run starts it), elsewhere the test skips without it."""

from __future__ import annotations

import secrets
import socket
import threading

import pytest
from tests.ci import in_ci

from gsomia.services.throttle import MAX_FAILURES, FailedAuthentications, ThrottleStorageError, TooManyFailures

REDIS = "redis://127.0.0.1:6379"


def _redis_up() -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture
def workers() -> list[FailedAuthentications]:
    if not _redis_up():
        if in_ci():
            pytest.fail("Redis is not reachable at 127.0.0.1:6379 (.ci/run starts it)")
        pytest.skip("no Redis server at 127.0.0.1:6379")
    prefix = f"gsomia-test-{secrets.token_hex(6)}"  # a node of its own on the shared server
    return [FailedAuthentications(storage=REDIS, key_prefix=prefix) for _ in range(3)]


def _admitted(throttle: FailedAuthentications, address: str) -> bool:
    try:
        throttle.admit(address, secrets.token_hex(16))
    except TooManyFailures:
        return False
    return True


def test_R7_2_one_budget_per_address_whichever_worker_is_asked(workers: list[FailedAuthentications]) -> None:
    admitted = [_admitted(workers[n % len(workers)], "10.0.0.7") for n in range(MAX_FAILURES + 5)]
    assert admitted == [True] * MAX_FAILURES + [False] * 5
    assert all(_admitted(w, "10.0.0.8") for w in workers)  # another address has its own budget


def test_R7_2_a_burst_over_the_workers_gets_exactly_the_budget(workers: list[FailedAuthentications]) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        outcome = _admitted(workers[n % len(workers)], "10.0.0.9")
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(120)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 120 and results.count(True) == MAX_FAILURES


def test_a_storage_that_cannot_keep_moving_windows_is_refused_by_name() -> None:
    with pytest.raises(ThrottleStorageError, match="throttle_storage 'nosuch://x'"):
        FailedAuthentications(storage="nosuch://x")
