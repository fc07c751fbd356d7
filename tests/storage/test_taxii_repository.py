"""TaxiiRepository's date_added, on SQLite and PostgreSQL: items created in one instant get one microsecond
each, in creation order (then by id); a later stamping comes after every earlier stamp whatever the clock says;
the keyset the TAXII listings page by gives each stamped item exactly once, however the pages fall."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine
from tests.storage.test_repositories import T0, _item

from gsomia.storage import Store

TICK = timedelta(microseconds=1)


def test_stamps_are_distinct_increasing_and_pages_lose_or_repeat_nothing(engine: Engine) -> None:
    store = Store(engine)
    ids = [f"KOR-{n:04x}" for n in range(25)]
    with store.unit_of_work() as uow:
        uow.items.add(replace(_item("KOR-early"), created_at=T0 - timedelta(seconds=1)))
        for item_id in reversed(ids):  # inserted out of order: the order is the stamping's
            uow.items.add(_item(item_id))
        assert uow.taxii.has_unstamped() and uow.taxii.has_unstamped(since=T0)
        assert uow.taxii.stamp_new(T0 + timedelta(hours=1), 1000) == 26
        assert not uow.taxii.has_unstamped()
        uow.items.add(replace(_item("KOR-late"), created_at=T0 - timedelta(days=1)))  # committed late
        assert not uow.taxii.has_unstamped(since=T0) and uow.taxii.has_unstamped()
        assert uow.taxii.stamp_new(T0, 1000, since=T0) == 0
        assert uow.taxii.stamp_new(T0, 1000) == 1  # a clock behind the stamps: after them all the same
        stamped = {i: uow.taxii.date_added(i) for i in ["KOR-early", *ids, "KOR-late"]}
    first = T0 + timedelta(hours=1)
    assert list(stamped.values()) == [first + n * TICK for n in range(27)]
    seen: list[str] = []
    since, inclusive = T0, True
    for _ in range(20):  # bounded: 27 items at 4 a page
        with store.unit_of_work(readonly=True) as uow:
            page = uow.taxii.in_added_order(since, inclusive=inclusive, limit=4)
        seen += [item.id for _, item in page]
        if len(page) < 4:
            break
        since, inclusive = page[-1][0], False
    assert seen == ["KOR-early", *ids, "KOR-late"]
    with store.unit_of_work(readonly=True) as uow:
        assert [i.id for _, i in uow.taxii.in_added_order(first + 26 * TICK, inclusive=True, limit=9)] == ["KOR-late"]
        assert uow.taxii.in_added_order(first + 26 * TICK, inclusive=False, limit=9) == []
