"""Engines for the two supported backends: embedded SQLite (default) and PostgreSQL.

SQLite runs in WAL mode so that readers never block the writer. `synchronous=FULL` is the default:
a commit returns only after the WAL is fsynced, so an acknowledged write survives power loss
(NORMAL survives a process crash but may lose the last commits on power loss).

SQLite transactions that write start with BEGIN IMMEDIATE: two processes appending to the audit
log would otherwise both read the head in a deferred (shared) transaction and then deadlock on
upgrade. Read-only units pass `execution_options(gsomia_readonly=True)` and begin DEFERRED.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

SqliteSync = Literal["FULL", "NORMAL"]
READONLY = "gsomia_readonly"


def open_engine(url: str, *, sqlite_synchronous: SqliteSync = "FULL", schema: str | None = None) -> Engine:
    """An engine for `url`; `schema` (PostgreSQL only) selects the search_path, e.g. one per test run."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, sqlite_synchronous)
    if parsed.get_backend_name() == "postgresql":
        connect_args: dict[str, Any] = {}
        if schema is not None:
            connect_args["options"] = f"-csearch_path={schema}"
        return create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    raise ValueError(f"unsupported database URL {parsed.render_as_string()!r}: use sqlite or postgresql")


def _sqlite_engine(url: str, synchronous: SqliteSync) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" hook below emit BEGIN itself (the driver would emit DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine
