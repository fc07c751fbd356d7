"""One unit of work = one transaction: services open one per use case and commit once."""

from __future__ import annotations

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
    """The node's database. Commits when the `with` block ends normally; rolls back on any error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[UnitOfWork]:
        with self.engine.connect() as conn:
            if readonly:
                conn.execution_options(**{READONLY: True})
            with conn.begin():
                yield UnitOfWork(conn, OfficialsRepository(conn), ItemsRepository(conn), AuditRepository(conn),
                                 ExchangeRepository(conn))

    def dispose(self) -> None:
        self.engine.dispose()
