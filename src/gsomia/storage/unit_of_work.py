"""One unit of work = one transaction: services open one per use case and commit once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from gsomia.storage.engine import READONLY, SqliteSync, open_engine
from gsomia.storage.exchange import ExchangeRepository
from gsomia.storage.group_commit import WalFlusher
from gsomia.storage.repositories import AuditRepository, ItemsRepository, OfficialsRepository


@dataclass(frozen=True, slots=True)
class UnitOfWork:
    connection: Connection
    officials: OfficialsRepository
    items: ItemsRepository
    audit: AuditRepository
    exchange: ExchangeRepository


class Store:
    """The node's database. Commits when the `with` block ends normally; rolls back on any error.

    SQLite has one writer at a time, and a writer that finds the database locked sleeps in steps of
    up to 100 ms. The node's own writers therefore queue on a lock instead, and only writers from
    other processes (a CLI next to a running server) meet SQLite's busy wait.

    With a `flusher` (SQLite's group commit, see group_commit.py) a writing unit of work returns once
    its commit is on stable storage, having waited for that outside the writer lock.
    """

    def __init__(self, engine: Engine, *, flusher: WalFlusher | None = None) -> None:
        self.engine = engine
        self._writer = threading.RLock() if engine.dialect.name == "sqlite" else None
        self._flusher = flusher

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[UnitOfWork]:
        if readonly or self._writer is None:
            with self._transaction(readonly) as uow:
                yield uow
            return
        with self._writer:
            with self._transaction(readonly) as uow:
                yield uow
            commit = self._flusher.committed() if self._flusher is not None else 0
        if self._flusher is not None:
            self._flusher.wait_durable(commit)

    @contextmanager
    def _transaction(self, readonly: bool) -> Iterator[UnitOfWork]:
        with self.engine.connect() as conn:
            if readonly:
                conn.execution_options(**{READONLY: True})
            with conn.begin():
                yield UnitOfWork(conn, OfficialsRepository(conn), ItemsRepository(conn), AuditRepository(conn),
                                 ExchangeRepository(conn))

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, sqlite_synchronous: SqliteSync = "GROUP", schema: str | None = None) -> Store:
    """A node's store; SQLite's GROUP durability gets its WAL flusher here (see engine.py)."""
    engine = open_engine(url, sqlite_synchronous=sqlite_synchronous, schema=schema)
    database = engine.url.database
    on_disk = database not in (None, "", ":memory:")
    grouped = engine.dialect.name == "sqlite" and sqlite_synchronous == "GROUP" and on_disk
    return Store(engine, flusher=WalFlusher(str(database)) if grouped else None)
