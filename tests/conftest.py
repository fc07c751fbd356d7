"""Shared fixtures: a migrated database on each backend (SQLite file, PostgreSQL schema), a node context.

PostgreSQL: every test gets its own schema in the `test` database, dropped afterwards. Under CI=true
an unreachable server FAILS the test; elsewhere it is skipped.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from tests.ci import in_ci

from gsomia.config import Settings
from gsomia.services import officials
from gsomia.services.context import Actor, Node
from gsomia.storage import Store, open_engine, upgrade_to_head
from gsomia.storage.tables import metadata

PG_URL = os.environ.get("GSOMIA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@cache
def _pg_problem() -> str | None:
    try:
        probe = create_engine(PG_URL)
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as bad:  # noqa: BLE001 - any failure means "not reachable" here
        return f"PostgreSQL at {PG_URL} unreachable: {bad}"
    return None


def require_postgres() -> None:
    problem = _pg_problem()
    if problem is not None:
        if in_ci():
            pytest.fail(f"{problem} (mandatory under CI=true)")
        pytest.skip(problem)


@contextlib.contextmanager
def pg_schemas(prefix: str, count: int = 1) -> Iterator[list[str]]:
    """`count` empty schemas of their own in the PostgreSQL test database (names starting `prefix_`), dropped
    afterwards with all they hold."""
    schemas = [f"{prefix}_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield schemas
    finally:
        with admin.connect() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(url, schema) of an EMPTY database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gsomia.db'}", None
        return
    require_postgres()
    with pg_schemas("t") as (schema,):
        yield PG_URL, schema


@pytest.fixture
def engine(database: tuple[str, str | None]) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    url, schema = database
    made = open_engine(url, schema=schema)
    upgrade_to_head(made)
    yield made
    made.dispose()


class Clock:
    """A settable clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> Node:
    """A KOR node over `engine`, without keys: what the records-keeping use cases need."""
    settings = Settings(party="KOR", name="MND Seoul (test)", node_id="KOR-test", data_dir=tmp_path)
    return Node(settings, Store(engine), clock=Clock())


@pytest.fixture
def officer(ctx: Node) -> Actor:
    """The bootstrap security officer of a KOR node."""
    record, _ = officials.bootstrap(ctx, name="Kim Security", clearance=None, expires=None)
    return Actor(record.official, "test")


def snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table: equal snapshots before and after mean nothing was written."""
    with engine.connect() as conn:
        return {t.name: sorted(repr(tuple(row)) for row in conn.execute(select(t)))
                for t in metadata.sorted_tables}


@pytest.fixture
def db_state(engine: Engine) -> Callable[[], dict[str, list[str]]]:
    """Call before and after: equal results mean nothing was written."""
    return lambda: snapshot(engine)


@pytest.fixture
def snapshot_of() -> Callable[[Engine], dict[str, list[str]]]:
    """`snapshot` for tests that open their own engine (the CLI tests)."""
    return snapshot


def drop_audit_guards(engine: Engine) -> None:
    """Play the attacker with DDL rights: remove the append-only triggers before tampering."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_entries_append_only ON audit_entries"))
        else:
            conn.execute(text("DROP TRIGGER audit_entries_no_update"))
            conn.execute(text("DROP TRIGGER audit_entries_no_delete"))


@pytest.fixture
def unguarded() -> Callable[[Engine], None]:
    return drop_audit_guards
