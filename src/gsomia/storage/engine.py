"""Engines for the two supported backends: embedded SQLite (default) and PostgreSQL.

SQLite runs in WAL mode so that readers never block the writer. Durability is one of:
- GROUP (a node's default, through `open_store`): the connection runs with synchronous=NORMAL and
  the Store waits, after the commit and outside the writer lock, for an fsync of the WAL shared by
  concurrent commits (group_commit.py): an acknowledged write survives power loss, as under FULL,
  at a fraction of the cost;
- FULL (an engine's default): SQLite fsyncs the WAL inside every COMMIT, holding the writer lock meanwhile;
- NORMAL: no fsync before acknowledging; survives a process crash but may lose the last commits on
  power loss (tests and throw-away nodes only).

SQLite transactions that write start with BEGIN IMMEDIATE: two processes appending to the audit
log would otherwise both read the head in a deferred (shared) transaction and then deadlock on
upgrade. Read-only units pass `execution_options(gsomia_readonly=True)` and begin DEFERRED.

PostgreSQL pays a network round trip per statement, and under load each one also costs a wake-up of the
server process and of the waiting thread. So a writer batch (writer.py) runs in psycopg's pipeline mode
(`pipelined`): a statement marked DEFERRED (a write whose result nobody reads) is sent without waiting for
its answer, and goes to the server with the next statement that waits (any other statement: its result or
row count is read). An error of a deferred write surfaces at that next wait, at the latest at the end of its
unit of work (unit_of_work.py waits there), so it still fails only its own unit, never a neighbour's.

SQLite also runs with `secure_delete=ON` on every connection: whatever a statement frees (an
overwritten row's old cell, a freed overflow page) is zeroed rather than left in the file, which
is what lets `reclaim_erased` promise that destroyed content leaves no bytes behind (Art. 13).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, Literal

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

SqliteSync = Literal["GROUP", "FULL", "NORMAL"]
PRIVATE = 0o600  # the database holds sealed items, the register and the audit trail: its owner's alone
READONLY = "gsomia_readonly"
# The execution option of a write whose result is not read: in a pipeline it does not wait (see above).
DEFERRED: Mapping[str, Any] = MappingProxyType({"gsomia_deferred": True})


def is_deferred(execution_options: Mapping[str, Any]) -> bool:
    """Whether a statement executed with these options is a DEFERRED write."""
    return bool(execution_options.get("gsomia_deferred", False))


_PIPELINE = "gsomia_pipeline"  # Connection.info: the psycopg pipeline the connection's batch runs in


def open_engine(url: str, *, sqlite_synchronous: SqliteSync = "FULL", schema: str | None = None) -> Engine:
    """An engine for `url`; `schema` (PostgreSQL only) selects the search_path, e.g. one per test run."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, sqlite_synchronous)
    if parsed.get_backend_name() == "postgresql":
        connect_args: dict[str, Any] = {}
        if schema is not None:
            connect_args["options"] = f"-csearch_path={schema}"
        engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        # A Core INSERT of many rows as one statement of many VALUES (SQLAlchemy's "insertmanyvalues", as its
        # psycopg2 dialect does), not psycopg's executemany: in a pipeline that sends, and polls the socket,
        # once per row.
        engine.dialect.use_insertmanyvalues_wo_returning = True
        event.listen(engine, "after_cursor_execute", _wait_unless_deferred)
        return engine
    raise ValueError(f"unsupported database URL {parsed.render_as_string()!r}: use sqlite or postgresql")


class _Pipelined:
    """A connection's pipeline, and whether a deferred write was sent since its last wait."""

    __slots__ = ("pipeline", "unanswered")

    def __init__(self, pipeline: psycopg.Pipeline) -> None:
        self.pipeline, self.unanswered = pipeline, False

    def sync(self) -> None:
        self.unanswered = False
        self.pipeline.sync()


def _wait_unless_deferred(conn: Connection, _cursor: Any, _statement: str, _parameters: Any, context: Any,
                          _executemany: bool) -> None:
    """In a pipeline, a statement not DEFERRED waits here for its answer and those of the deferred writes
    sent before it, before SQLAlchemy reads its result (an error of any of them is raised, wrapped, here)."""
    pipelined = conn.info.get(_PIPELINE)
    if pipelined is None:
        return
    if is_deferred(context.execution_options):
        pipelined.unanswered = True
    else:
        pipelined.sync()


@contextmanager
def pipelined(conn: Connection) -> Iterator[bool]:
    """PostgreSQL: the rest of `conn`'s transaction in pipeline mode (see the module docstring), committed in
    the pipeline when the block ends normally: its COMMIT goes with the pipeline's closing sync, one round trip
    (SQLAlchemy's commit then finds the transaction committed and sends nothing). Yields whether it is on;
    on SQLite it never is (each statement is a call into the library, not a round trip), nor with a driver
    other than psycopg 3 (whose pipeline this is)."""
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        yield False
        return
    with conn.connection.driver_connection.pipeline() as pipeline:  # type: ignore[union-attr]
        conn.info[_PIPELINE] = _Pipelined(pipeline)
        try:
            yield True
            conn.exec_driver_sql("COMMIT", execution_options=DEFERRED)
        finally:
            del conn.info[_PIPELINE]


def waits(conn: Connection, execution_options: Mapping[str, Any]) -> bool:
    """Whether a statement executed on `conn` with these options waits for its answer (a round trip on
    PostgreSQL): every one does but a DEFERRED write in a pipeline."""
    return conn.info.get(_PIPELINE) is None or not is_deferred(execution_options)


def unanswered(conn: Connection) -> bool:
    """Whether `conn`'s pipeline sent a deferred write since it last waited (never outside a pipeline)."""
    pipelined = conn.info.get(_PIPELINE)
    return pipelined is not None and bool(pipelined.unanswered)


def settle_pipeline(conn: Connection) -> None:
    """Wait for whatever `conn`'s pipeline has sent, and set aside its errors: a unit of work that failed does
    so before it rolls back to its savepoint (its writes' errors are moot then, and must not stop the rollback)."""
    pipelined = conn.info.get(_PIPELINE)
    if pipelined is not None:
        with contextlib.suppress(psycopg.Error):
            pipelined.sync()


def _sqlite_engine(url: str, synchronous: SqliteSync) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60})
    private_on_connect(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" hook below emit BEGIN itself (the driver would emit DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={'NORMAL' if synchronous == 'GROUP' else synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def reclaim_erased(engine: Engine, table: str = "items") -> bool:
    """After content was erased from `table` and committed: leave no old copy that SQL can reach.

    SQLite: the erasing transaction's pages (zeroed by secure_delete) are copied over the database
    file and the WAL is truncated to zero bytes (`wal_checkpoint(TRUNCATE)`), so neither the
    database file nor its -wal file keeps an earlier page image; the -shm file holds only the WAL
    index (page numbers and checksums), never content. Returns False when a concurrent reader kept
    the checkpoint from completing, or (PostgreSQL) the table stayed locked for 30 s; the next
    successful call then covers this destruction too.

    PostgreSQL has no equivalent of secure_delete: an UPDATE writes a new row version and leaves the
    old one (and its TOAST chunks) in the page as a dead tuple; a plain VACUUM makes that space
    reusable but leaves the bytes in the page (we checked with pageinspect). So the care taken here
    is `VACUUM FULL` of the table: it rewrites the table and its TOAST table into new files holding
    only live rows and unlinks the old files, so the old bytes are in no page PostgreSQL can read
    (tests/services/test_handling.py checks the raw pages). It takes an ACCESS EXCLUSIVE lock on the
    table while it copies it: acceptable for a registry of item metadata and sealed blobs where a
    destruction is a rare, deliberate act. Its limits, stated plainly: the unlinked files' blocks
    stay on the disk until the file system reuses them; the write-ahead log (pg_wal) keeps the
    original INSERT until its segment is recycled, and WAL archives, replicas and backups keep it
    for as long as they are retained. Content is sealed at rest, so what may remain there is
    ciphertext; full erasure on PostgreSQL also needs encrypted storage and bounded WAL/backup retention.
    """
    if engine.dialect.name == "sqlite":
        # On the raw connection: it runs in autocommit (see _on_connect), and a checkpoint must not
        # run inside a transaction, which SQLAlchemy's autobegin would open.
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            cursor.close()
        finally:
            raw.close()
        return not busy
    if engine.dialect.name == "postgresql":
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # A long transaction elsewhere holding the table must not hang the destruction: give up
            # after a while and report it (the next destruction's VACUUM FULL covers this one too).
            conn.exec_driver_sql("SET lock_timeout = '30s'")
            try:
                conn.exec_driver_sql(f"VACUUM FULL {table}")
            except OperationalError:
                return False
            finally:
                conn.exec_driver_sql("RESET lock_timeout")
        return True
    return False


def private_on_connect(engine: Engine) -> None:
    """Before each connection is made (never earlier: opening an engine creates nothing), see that its
    SQLite file exists with the owner's permissions only (`private_file`)."""
    database = engine.url.database

    @event.listens_for(engine, "do_connect")
    def _private(*_args: Any) -> None:
        private_file(database)


def private_file(database: str | None) -> None:
    """Create the database file readable and writable by its owner only, before SQLite does (it would use
    the umask, typically 0644); SQLite gives its -wal and -shm files the database file's permissions.

    An existing file is never opened here, only chmod-ed: closing any descriptor of a file drops every
    POSIX lock this process holds on it, those of its open SQLite connections included. Another process
    would then take the last connection's exclusive lock, checkpoint and delete the WAL under this one's
    feet, and the commits this process writes next would go to a deleted file (lost writes; sqlite.org's
    "How To Corrupt An SQLite Database File", 2.2). A file that does not exist yet has no such locks.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE))
    except FileExistsError:
        with contextlib.suppress(PermissionError):  # another owner's file: theirs to protect
            os.chmod(database, PRIVATE)
