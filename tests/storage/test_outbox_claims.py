"""Outbox rows are claimed with leases (several senders over one outbox: worker processes of one node). A
message claimed by one sender is not given to another until its lease runs out; senders claiming at the same
time from their own connections never get the same message; a claim given back, or run out, frees the row.
Same behaviour on SQLite and PostgreSQL (FOR UPDATE SKIP LOCKED there)."""

from __future__ import annotations

import threading
from collections.abc import Collection
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine

from gsomia.storage import Store
from gsomia.storage.engine import open_engine
from gsomia.storage.exchange import PENDING, Claimant, OutboxMessage

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
LEASE = timedelta(seconds=30)
A, B = Claimant("worker-a", LEASE), Claimant("worker-b", LEASE)


def _message(message_id: str, item_id: str | None, peer: str = "JPN") -> OutboxMessage:
    return OutboxMessage(message_id, peer, "item", item_id, b"payload", PENDING, 0, T0, T0)


def _claim(store: Store, claimant: Claimant, now: datetime, limit: int = 50,
           besides: Collection[str] = ()) -> list[str]:
    with store.unit_of_work() as uow:
        return [m.message_id for m in uow.exchange.claim_due(now, limit, claimant, besides=besides)]


def _enqueue(store: Store, *messages: OutboxMessage) -> None:
    with store.unit_of_work() as uow:
        for message in messages:
            uow.exchange.enqueue(message)


def test_a_claimed_message_goes_to_no_other_sender_until_its_lease_runs_out(engine: Engine) -> None:
    store = Store(engine)
    _enqueue(store, _message("m1", "item-a"), _message("m2", "item-a"), _message("m3", "item-b"),
             _message("m4", None))
    assert _claim(store, A, T0, limit=2) == ["m1", "m3"]  # oldest first; m2 waits behind m1 whoever holds it
    assert _claim(store, B, T0) == ["m4"]
    assert _claim(store, B, T0 + LEASE - timedelta(seconds=1)) == ["m4"]  # its own again; A's stay A's
    with store.unit_of_work(readonly=True) as uow:  # the plain look at what is due skips others' claims too
        assert [m.message_id for m in uow.exchange.due(T0, 50, claimant="worker-b")] == ["m4"]
        assert [m.message_id for m in uow.exchange.due(T0, 50, claimant="worker-a")] == ["m1", "m3"]
    # A failed attempt of B's cannot touch what A holds; A's gives it back (for its next attempt's time).
    with store.unit_of_work() as uow:
        uow.exchange.retry_later("m1", attempts=1, at=T0, error="partner down", by="worker-b")
        assert uow.exchange.outbox_message("m1").claimed_by == "worker-a"  # type: ignore[union-attr]
        uow.exchange.retry_later("m1", attempts=1, at=T0, error="partner down", by="worker-a")
        assert uow.exchange.outbox_message("m1").claimed_by is None  # type: ignore[union-attr]
    assert _claim(store, B, T0 + timedelta(seconds=1)) == ["m1", "m4"]
    # A dies holding m3: once the lease has run out, B takes it.
    assert "m3" not in _claim(store, B, T0 + LEASE - timedelta(seconds=1))
    assert _claim(store, B, T0 + LEASE + timedelta(seconds=1)) == ["m1", "m3", "m4"]


def test_a_sender_that_stops_gives_back_its_claims_but_those_on_their_way(engine: Engine) -> None:
    store = Store(engine)
    _enqueue(store, _message("m1", "item-a"), _message("m2", "item-b"), _message("m3", "item-c"))
    assert _claim(store, A, T0) == ["m1", "m2", "m3"]
    with store.unit_of_work() as uow:
        assert uow.exchange.release_claims("worker-a", besides=["m2"]) == 2
    assert _claim(store, B, T0) == ["m1", "m3"]


def test_what_a_process_with_a_sender_writes_is_born_claimed_by_it(engine: Engine) -> None:
    store = Store(engine)
    stop = store.call_when_enqueued(lambda _enqueued: None, claimant=A)
    _enqueue(store, _message("m1", "item-a"))
    stop()
    _enqueue(store, _message("m2", "item-b"))  # no sender listening any more: nobody's
    assert _claim(store, B, T0) == ["m2"]
    assert _claim(store, A, T0) == ["m1"]
    assert _claim(store, B, T0 + LEASE) == ["m1", "m2"]  # A's lease has run out; m2 was B's already


def test_senders_claiming_at_once_from_their_own_connections_never_share_a_message(
        engine: Engine, database: tuple[str, str | None]) -> None:
    """Four senders, each with its own engine (as worker processes have), claim small batches concurrently
    until the outbox is empty: every message is claimed exactly once."""
    store = Store(engine)
    count = 300
    _enqueue(store, *[_message(f"m{n:04}", f"item-{n}") for n in range(count)])
    url, schema = database
    claimed: dict[str, set[str]] = {}
    errors: list[BaseException] = []

    def claim_all(name: str) -> None:
        worker = open_engine(url, schema=schema)
        mine, claimant = claimed.setdefault(name, set()), Claimant(name, LEASE)
        try:
            own = Store(worker)
            for _ in range(count):  # bounded: at least one message per round while any is left
                got = _claim(own, claimant, T0, limit=7, besides=mine)  # as a sender: not those on their way
                assert not mine & set(got)
                if not got and not _left(own):
                    break
                mine.update(got)
        except BaseException as bad:  # noqa: BLE001 - reported by the test below
            errors.append(bad)
        finally:
            worker.dispose()

    def _left(own: Store) -> bool:
        with own.unit_of_work(readonly=True) as uow:
            return bool(uow.exchange.due(T0, 1, claimant="nobody"))

    threads = [threading.Thread(target=claim_all, args=(f"worker-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    every = [m for got in claimed.values() for m in got]
    assert len(every) == count and len(set(every)) == count, {k: len(v) for k, v in claimed.items()}
