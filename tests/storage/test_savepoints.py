"""Units of work inside a writer batch are savepoints (storage/unit_of_work.py). On PostgreSQL a kept
savepoint's RELEASE travels with the next savepoint command instead of a round trip of its own: what is
kept and what is rolled back must stay exactly as with an immediate release, nested units included.
Both backends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, event, select

from gsomia.storage import Store, open_engine


class Refused(Exception):
    pass


def numbers_store(database: tuple[str, str | None]) -> tuple[Store, Table]:
    url, schema = database
    engine = open_engine(url, schema=schema)
    tables = MetaData()
    numbers = Table("numbers", tables, Column("n", Integer, primary_key=True))
    tables.create_all(engine)
    return Store(engine), numbers


def put(store: Store, numbers: Table, *values: int, fail: bool = False) -> None:
    with store.unit_of_work() as uow:
        for n in values:
            uow.connection.execute(numbers.insert().values(n=n))
        if fail:
            raise Refused(f"after writing {values}")


def kept(store: Store, numbers: Table) -> list[int]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(numbers.c.n)).scalars())


def test_nested_units_keep_and_drop_as_with_immediate_releases(database: tuple[str, str | None]) -> None:
    store, numbers = numbers_store(database)
    with store.batch():
        put(store, numbers, 1)
        try:  # an outer unit fails after an inner one was kept: both are gone
            with store.unit_of_work() as outer:
                outer.connection.execute(numbers.insert().values(n=2))
                put(store, numbers, 3)
                outer.connection.execute(numbers.insert().values(n=4))
                raise Refused("outer")
        except Refused:
            pass
        put(store, numbers, 5)
        with store.unit_of_work() as outer:  # an inner unit fails, the outer one goes on and is kept
            put(store, numbers, 6)
            try:
                put(store, numbers, 7, fail=True)
            except Refused:
                pass
            outer.connection.execute(numbers.insert().values(n=8))
        try:
            put(store, numbers, 9, fail=True)
        except Refused:
            pass
        put(store, numbers, 10)
    assert kept(store, numbers) == [1, 5, 6, 8, 10]
    store.dispose()


def test_a_batch_of_units_costs_one_savepoint_command_per_unit_on_postgresql(database: tuple[str, str | None]) -> None:
    store, numbers = numbers_store(database)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    with store.batch():
        for n in range(5):
            put(store, numbers, n)
    savepoint_commands = [s for s in sent if "SAVEPOINT" in s]
    per_unit = 1 if store.engine.dialect.name == "postgresql" else 2  # SQLite: one statement at a time
    assert len(savepoint_commands) == 5 * per_unit
    assert kept(store, numbers) == [0, 1, 2, 3, 4]
    store.dispose()
