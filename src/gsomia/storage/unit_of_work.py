"""One unit of work = one transaction: services open one per use case and commit once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from gsomia.storage.engine import READONLY
from gsomia.storage.exchange import ExchangeRepository
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
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = threading.RLock() if engine.dialect.name == "sqlite" else None

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[UnitOfWork]:
        if readonly or self._writer is None:
            with self._transaction(readonly) as uow:
                yield uow
            return
        with self._writer, self._transaction(readonly) as uow:
            yield uow

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
