"""Units of work inside a writer batch are savepoints (storage/unit_of_work.py). On PostgreSQL the batch runs
in pipeline mode: a SAVEPOINT and the unit's deferred writes leave without waiting, and the unit's RELEASE waits
for all of them: what is kept and what is rolled back must stay exactly as with statements one at a time,
nested units included, a deferred write's failure failing its own unit only. Both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, select
from sqlalchemy.exc import IntegrityError

from gsomia.storage import Store, open_engine
from gsomia.storage.engine import DEFERRED, is_deferred


class Refused(Exception):
    pass


def numbers_store(database: tuple[str, str | None]) -> tuple[Store, Table]:
    url, schema = database
    engine = open_engine(url, schema=schema)
    tables = MetaData()
    numbers = Table("numbers", tables, Column("n", Integer, primary_key=True))
    tables.create_all(engine)
    return Store(engine), numbers


def put(store: Store, numbers: Table, *values: int, fail: bool = False, deferred: bool = False) -> None:
    """A unit of work inserting `values`; `deferred`: as writes whose result is not read (engine.DEFERRED)."""
    insert = numbers.insert().execution_options(**DEFERRED) if deferred else numbers.insert()
    with store.unit_of_work() as uow:
        for n in values:
            uow.connection.execute(insert.values(n=n))
        if fail:
            raise Refused(f"after writing {values}")


def kept(store: Store, numbers: Table) -> list[int]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(numbers.c.n)).scalars())


@pytest.mark.parametrize("deferred", [False, True], ids=["waiting", "deferred"])
def test_nested_units_keep_and_drop_as_with_immediate_releases(database: tuple[str, str | None],
                                                              deferred: bool) -> None:
    store, numbers = numbers_store(database)
    insert = numbers.insert().execution_options(**DEFERRED) if deferred else numbers.insert()
    with store.batch():
        put(store, numbers, 1, deferred=deferred)
        try:  # an outer unit fails after an inner one was kept: both are gone
            with store.unit_of_work() as outer:
                outer.connection.execute(insert.values(n=2))
                put(store, numbers, 3, deferred=deferred)
                outer.connection.execute(insert.values(n=4))
                raise Refused("outer")
        except Refused:
            pass
        put(store, numbers, 5, deferred=deferred)
        with store.unit_of_work() as outer:  # an inner unit fails, the outer one goes on and is kept
            put(store, numbers, 6, deferred=deferred)
            try:
                put(store, numbers, 7, fail=True, deferred=deferred)
            except Refused:
                pass
            outer.connection.execute(insert.values(n=8))
        try:
            put(store, numbers, 9, fail=True, deferred=deferred)
        except Refused:
            pass
        put(store, numbers, 10, deferred=deferred)
    assert kept(store, numbers) == [1, 5, 6, 8, 10]
    store.dispose()


def test_a_batch_of_units_waits_once_per_unit_for_its_savepoints_on_postgresql(
        database: tuple[str, str | None]) -> None:
    """In a writer batch on PostgreSQL (pipeline mode) a unit's SAVEPOINT and its deferred writes go without
    waiting and its RELEASE waits, once, for all of them; a unit whose last statement waited already sends its
    RELEASE without waiting."""
    store, numbers = numbers_store(database)
    waited: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool) -> None:
        if not is_deferred(context.execution_options):
            waited.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    with store.batch():
        for n in range(5):
            put(store, numbers, n, deferred=True)
        for n in range(5, 8):
            put(store, numbers, n)  # each insert waits: nothing is left for the RELEASE to wait for
    savepoint_commands = [s for s in waited if "SAVEPOINT" in s]
    postgresql = store.engine.dialect.name == "postgresql"
    assert len(savepoint_commands) == (5 if postgresql else 2 * 8)  # SQLite: one statement at a time
    assert kept(store, numbers) == list(range(8))
    store.dispose()


def test_a_deferred_write_that_fails_fails_its_own_unit_only(database: tuple[str, str | None]) -> None:
    """A deferred write's error comes back only when the pipeline next waits: at the latest at its unit's end,
    inside it, so that unit alone is rolled back and the error is the one SQLAlchemy raises for it."""
    store, numbers = numbers_store(database)
    with store.batch():
        put(store, numbers, 1, deferred=True)
        with pytest.raises(IntegrityError):
            put(store, numbers, 2, 1, deferred=True)  # 1 again: the duplicate key fails this unit, 2 goes too
        put(store, numbers, 3, deferred=True)
        with pytest.raises(IntegrityError), store.unit_of_work() as uow:  # the error met by a later read
            uow.connection.execute(numbers.insert().values(n=3).execution_options(**DEFERRED))
            uow.connection.execute(select(numbers.c.n))
        with store.unit_of_work() as outer:  # an inner unit fails at its end; the outer one goes on
            put(store, numbers, 4, deferred=True)
            with pytest.raises(IntegrityError):
                put(store, numbers, 5, 4, deferred=True)
            outer.connection.execute(numbers.insert().values(n=6).execution_options(**DEFERRED))
    assert kept(store, numbers) == [1, 3, 4, 6]
    store.dispose()
