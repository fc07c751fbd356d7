"""The outbox gives the sender at most one message per (partner, item), the oldest pending: an item's
notices (release, reclassification, recall …) reach a partner in the order they were written, even when
an earlier one keeps failing. Same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine

from gsomia.storage import Store
from gsomia.storage.exchange import DELIVERED, PENDING, OutboxMessage

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def _message(message_id: str, peer: str, item_id: str | None, at: datetime = T0) -> OutboxMessage:
    return OutboxMessage(message_id, peer, "item", item_id, b"payload", PENDING, 0, at, at)


def _due(store: Store, now: datetime, besides: tuple[str, ...] = ()) -> list[str]:
    with store.unit_of_work(readonly=True) as uow:
        return [m.message_id for m in uow.exchange.due(now, 50, besides=besides)]


def test_an_items_notices_leave_one_at_a_time_in_order(engine: Engine) -> None:
    store = Store(engine)
    with store.unit_of_work() as uow:
        for message in (_message("m1", "JPN", "item-a"), _message("m2", "JPN", "item-a"),
                        _message("m3", "JPN", "item-b"), _message("m4", "USA", "item-a"),
                        _message("m5", "JPN", None), _message("m6", "JPN", None)):
            uow.exchange.enqueue(message)
    assert _due(store, T0) == ["m1", "m3", "m4", "m5", "m6"]  # m2 waits for m1; messages about no item don't
    assert _due(store, T0, besides=("m1", "m5")) == ["m3", "m4", "m6"]  # on their way already
    with store.unit_of_work() as uow:
        uow.exchange.retry_later("m1", attempts=1, at=T0 + timedelta(minutes=1), error="partner down")
    assert _due(store, T0) == ["m3", "m4", "m5", "m6"]  # m1 backs off, and m2 still does not overtake it
    with store.unit_of_work() as uow:
        assert uow.exchange.settle("m1", state=DELIVERED, at=T0, response=b"receipt")
        assert not uow.exchange.settle("m1", state=DELIVERED, at=T0, response=b"again")  # once
    assert _due(store, T0) == ["m2", "m3", "m4", "m5", "m6"]
    assert _due(store, T0 - timedelta(seconds=1)) == []  # nothing is due before its time
