"""One unit of work = one transaction: services open one per use case and commit once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from gsomia.storage.agreements import AgreementsRepository
from gsomia.storage.console import ConsoleSessionsRepository
from gsomia.storage.engine import (
    DEFERRED,
    READONLY,
    SqliteSync,
    open_engine,
    pipelined,
    reclaim_erased,
    settle_pipeline,
    unanswered,
)
from gsomia.storage.exchange import Claimant, Enqueued, ExchangeRepository
from gsomia.storage.feed import FeedStreamsRepository
from gsomia.storage.group_commit import WalFlusher
from gsomia.storage.repositories import AuditRepository, ItemsRepository, OfficialsRepository
from gsomia.storage.taxii import TaxiiRepository
from gsomia.storage.writer import Writer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UnitOfWork:
    connection: Connection
    officials: OfficialsRepository
    items: ItemsRepository
    audit: AuditRepository
    exchange: ExchangeRepository
    feed_streams: FeedStreamsRepository
    console_sessions: ConsoleSessionsRepository
    agreements: AgreementsRepository
    taxii: TaxiiRepository
    # True when this is a savepoint of the node's writer batch (Store.batch): the writes are kept or
    # dropped together just the same, and made durable by the batch's one commit before anyone is answered.
    in_batch: bool = False
    # What to do once the transaction is committed and durable (never if it is rolled back): `on_commit`.
    committed: list[Callable[[], None]] = field(default_factory=list)
    # Who is told of what the audit log appends, once it is committed (services/audit_log.py; the metrics).
    audit_listeners: Sequence[Callable[[Sequence[object]], None]] = ()
    # PostgreSQL: savepoints kept whose RELEASE is not sent yet (one cell, shared by the batch's units). It
    # goes with the transaction's next savepoint command, in the same round trip, or never (the commit
    # releases them). Until then later statements run inside them, which a release would only have merged
    # into the enclosing savepoint or transaction anyway: what is kept or rolled back stays the same.
    owed_releases: list[int] = field(default_factory=lambda: [0])
    # PostgreSQL, in a writer batch: the transaction runs in pipeline mode (engine.py), writes marked DEFERRED
    # do not wait for their answers, and a savepoint's end waits for all of them.
    pipelined: bool = False

    def on_commit(self, action: Callable[[], None]) -> None:
        """`action()` once this unit of work's writes are committed and durable (in a writer batch: once the
        batch is), from the committing thread, before its callers are answered; never if they are dropped."""
        self.committed.append(action)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint in this transaction: kept when the block ends normally, rolled back to on any
        error. Plain SQL, because SQLAlchemy's begin_nested() compiles its statements anew every time
        (four times the cost here). Nested ones may share the name: both backends take the newest."""
        if self.pipelined:
            with self._pipelined_savepoint():
                yield
            return
        deferring = self.connection.dialect.name == "postgresql"  # SQLite takes one statement at a time
        self._savepoint_sql(_SAVEPOINT)
        enqueued, committed = len(self.exchange.enqueued), len(self.committed)
        try:
            yield
        except BaseException:
            self._savepoint_sql(f"{_ROLLBACK_TO}; {_RELEASE}" if deferring else _ROLLBACK_TO)
            if not deferring:
                self.connection.exec_driver_sql(_RELEASE)
            self._forget_since(enqueued, committed)
            raise
        if deferring:
            self.owed_releases[0] += 1
        else:
            self.connection.exec_driver_sql(_RELEASE)

    @contextmanager
    def _pipelined_savepoint(self) -> Iterator[None]:
        """`savepoint` in a pipeline: the SAVEPOINT goes with the unit's first statement that waits; the
        RELEASE waits for the answers to everything the unit sent since, so that a deferred write's error fails
        this unit, inside its block, and is rolled back with it (one round trip at its end, unless the unit's
        last statement waited already)."""
        conn = self.connection
        conn.exec_driver_sql(_SAVEPOINT, execution_options=DEFERRED)
        enqueued, committed = len(self.exchange.enqueued), len(self.committed)
        try:
            yield
            # Waits if the unit sent a write since its last wait; else nothing of it is unanswered and the
            # RELEASE (which cannot fail) goes with the next statement that waits.
            conn.exec_driver_sql(_RELEASE, execution_options={} if unanswered(conn) else DEFERRED)
        except BaseException:
            settle_pipeline(conn)  # what the unit sent, answered: its errors are moot now
            conn.exec_driver_sql(_ROLLBACK_TO, execution_options=DEFERRED)
            conn.exec_driver_sql(_RELEASE)
            self._forget_since(enqueued, committed)
            raise

    def _forget_since(self, enqueued: int, committed: int) -> None:
        """After a rollback to a savepoint: what the repositories remember of the transaction may be gone."""
        self.audit.forget_head()
        self.exchange.forget_consents()
        del self.exchange.enqueued[enqueued:]  # those messages are gone with it: never to be sent
        del self.committed[committed:]  # and what was to follow them

    def _savepoint_sql(self, sql: str) -> None:
        """`sql`, preceded in the same round trip by the releases owed (`owed_releases`, PostgreSQL only)."""
        owed, self.owed_releases[0] = self.owed_releases[0], 0
        self.connection.exec_driver_sql("; ".join([_RELEASE] * owed + [sql]))


_SAVEPOINT, _ROLLBACK_TO, _RELEASE = ("SAVEPOINT gsomia_unit", "ROLLBACK TO SAVEPOINT gsomia_unit",
                                      "RELEASE SAVEPOINT gsomia_unit")


class Store:
    """The node's database. Commits when the `with` block ends normally; rolls back on any error.

    SQLite has one writer at a time, and a writer that finds the database locked sleeps in steps of
    up to 100 ms. The node's own writers therefore queue on a lock instead, and only writers from
    other processes (a CLI next to a running server) meet SQLite's busy wait.

    With a `flusher` (SQLite's group commit, see group_commit.py) a writing unit of work returns once
    its commit is on stable storage, having waited for that outside the writer lock.

    Inside `batch()` (the node's writer thread, see writer.py) every unit of work opened on that
    thread is a savepoint of the batch's one transaction: it keeps its writes when its block ends
    normally and drops them on any error, and the batch commits them all together.
    """

    def __init__(self, engine: Engine, *, flusher: WalFlusher | None = None) -> None:
        self.engine = engine
        self._write_lock = threading.RLock() if engine.dialect.name == "sqlite" else None
        self._flusher = flusher
        self._open_batch = threading.local()  # .uow: the batch's unit of work on the thread running it
        self._on_enqueued: list[Callable[[list[Enqueued]], None]] = []
        self._on_audited: list[Callable[[Sequence[object]], None]] = []
        self._claimant: Claimant | None = None  # this process's outbox sender, if one runs
        self.writer = Writer(self)

    def call_when_enqueued(self, listener: Callable[[list[Enqueued]], None], *,
                           claimant: Claimant | None = None) -> Callable[[], None]:
        """`listener(enqueued)` once a transaction of this process that wrote to the outbox is durable
        (from the thread that committed it), with the messages it wrote: the outbox sender, which sends
        those first in line at once. With a `claimant` (that sender's), what this process writes to the
        outbox is claimed for it as it is written (see ExchangeRepository.claim_due). Returns what stops both."""
        self._on_enqueued.append(listener)
        if claimant is not None:
            self._claimant = claimant

        def stop() -> None:
            self._on_enqueued.remove(listener)
            if claimant is not None and self._claimant == claimant:
                self._claimant = None

        return stop

    def call_when_audited(self, listener: Callable[[Sequence[object]], None]) -> Callable[[], None]:
        """`listener(entries)` once a unit of work that appended `entries` to the audit log (the drafts of
        services/audit_log.py) is committed and durable, never if it is rolled back. Returns what stops it."""
        self._on_audited.append(listener)
        return lambda: self._on_audited.remove(listener)

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[UnitOfWork]:
        """A use case's unit of work: all its writes kept when the block ends normally, none on an error.

        Its own transaction, committed (and durable) when the block ends; or, when the use case runs on
        the node's writer (inside `batch()`), a savepoint of the writer's transaction (`in_batch` says
        so), made durable by the batch's commit before the caller is answered. Either way the use case
        sees the same all-or-nothing unit; only who commits differs.
        """
        batch = self._batch_here()
        if batch is not None:
            if readonly:
                yield batch
                return
            with batch.savepoint():
                yield batch
            return
        if readonly:
            with self._transaction(readonly=True) as uow:
                yield uow
            return
        with self._durable_transaction() as uow:
            yield uow

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every unit of work this thread opens until the block ends (writer.py);
        commits when it ends normally (then waits until the commit is durable), rolls back on error."""
        if self._batch_here() is not None:
            raise RuntimeError("a batch is already open on this thread")
        with self._durable_transaction() as outer, pipelined(outer.connection) as pipeline:
            self._open_batch.uow = replace(outer, in_batch=True, pipelined=pipeline)
            try:
                yield
            finally:
                self._open_batch.uow = None

    @contextmanager
    def _durable_transaction(self) -> Iterator[UnitOfWork]:
        """A writing transaction, alone among this process's writers; ends once its commit is durable."""
        with self._no_other_writer():
            with self._transaction(readonly=False) as uow:
                yield uow
            commit = self._flusher.committed() if self._flusher is not None else 0
        if self._flusher is not None:
            self._flusher.wait_durable(commit)
        for action in uow.committed:
            try:
                action()
            except Exception:  # the write stands; what follows it must not look like its failure
                log.exception("an action after a commit failed")
        if not uow.exchange.enqueued:
            return
        for listener in self._on_enqueued:
            try:
                listener(list(uow.exchange.enqueued))
            except Exception:  # the write stands; a listener's trouble must not look like its failure
                log.exception("a listener to outbox writes failed")

    def _no_other_writer(self) -> AbstractContextManager[object]:
        return self._write_lock if self._write_lock is not None else nullcontext()

    def _batch_here(self) -> UnitOfWork | None:
        uow: UnitOfWork | None = getattr(self._open_batch, "uow", None)
        return uow

    @contextmanager
    def _transaction(self, readonly: bool) -> Iterator[UnitOfWork]:
        with self.engine.connect() as conn:
            if readonly:
                conn.execution_options(**{READONLY: True})
            with conn.begin():
                yield UnitOfWork(conn, OfficialsRepository(conn), ItemsRepository(conn), AuditRepository(conn),
                                 ExchangeRepository(conn, self._claimant), FeedStreamsRepository(conn),
                                 ConsoleSessionsRepository(conn), AgreementsRepository(conn), TaxiiRepository(conn),
                                 audit_listeners=self._on_audited)

    def reclaim_erased(self, table: str = "items") -> bool:
        """`engine.reclaim_erased` after the erasing commit. Never inside a batch: its open transaction
        would keep SQLite's checkpoint from clearing the WAL, so destructions do not run on the writer."""
        if self._batch_here() is not None:
            raise RuntimeError("erased content cannot be reclaimed inside a writer batch")
        with self._no_other_writer():
            return reclaim_erased(self.engine, table)

    def dispose(self) -> None:
        self.writer.close()
        self.engine.dispose()


def open_store(url: str, *, sqlite_synchronous: SqliteSync = "GROUP", schema: str | None = None) -> Store:
    """A node's store; SQLite's GROUP durability gets its WAL flusher here (see engine.py)."""
    engine = open_engine(url, sqlite_synchronous=sqlite_synchronous, schema=schema)
    database = engine.url.database
    on_disk = database not in (None, "", ":memory:")
    grouped = engine.dialect.name == "sqlite" and sqlite_synchronous == "GROUP" and on_disk
    return Store(engine, flusher=WalFlusher(str(database)) if grouped else None)
