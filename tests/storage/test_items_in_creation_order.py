"""ItemsRepository.in_creation_order, the keyset the TAXII listings page by, on SQLite and PostgreSQL:
items created in one instant come by id, each exactly once, however the pages fall."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine
from tests.storage.test_repositories import T0, _item

from gsomia.storage import Store


def test_keyset_pages_through_a_shared_instant_without_loss_or_repetition(engine: Engine) -> None:
    store = Store(engine)
    ids = [f"KOR-{n:04x}" for n in range(25)]
    with store.unit_of_work() as uow:
        uow.items.add(replace(_item("KOR-early"), created_at=T0 - timedelta(seconds=1)))
        for item_id in reversed(ids):  # inserted out of order: the order is the query's
            uow.items.add(_item(item_id))
        uow.items.add(replace(_item("KOR-later"), created_at=T0 + timedelta(microseconds=1)))
    seen: list[str] = []
    since, after = T0, None
    for _ in range(20):  # bounded: 26 items at 4 a page
        with store.unit_of_work(readonly=True) as uow:
            page = uow.items.in_creation_order(since, after, 4)
        seen += [i.id for i in page]
        if len(page) < 4:
            break
        since, after = page[-1].created_at, page[-1].id
    assert seen == [*ids, "KOR-later"]
    with store.unit_of_work(readonly=True) as uow:
        assert [i.id for i in uow.items.in_creation_order(T0, ids[-1], 10)] == ["KOR-later"]
