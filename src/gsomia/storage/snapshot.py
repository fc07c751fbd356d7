"""Consistent copies of a node's database, for `gsomia backup` and `gsomia restore` (services/backup.py).

- SQLite: the sqlite3 online backup API copies the file page by page; a write by another connection while it
  runs makes it start over, so what it finishes with is one committed state. The copy is a database file.
- PostgreSQL: every table of the schema (and Alembic's revision) read in ONE read-only REPEATABLE READ
  transaction, so all tables show the same instant, streamed to a CBOR sequence: per table a header
  {"table", "columns"}, then one array per row; {"end": rows} last (a dump cut short is refused).
  Restored into an empty schema by migrating it to the dump's revision, inserting the rows parent tables
  first, setting the id sequences past the highest ids, and migrating on to this release's head. No
  pg_dump is needed, and the dump holds only gsomia's tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import cbor2
from alembic import command
from sqlalchemy import Engine, Table, delete, func, insert, inspect, select, text

from gsomia.storage.migrate import alembic_config, current_revision, upgrade_to_head
from gsomia.storage.tables import metadata

# (done, total) in pages (SQLite) or rows (PostgreSQL), for a progress bar.
Progress = Callable[[int, int], None]
ROWS_PER_INSERT = 500
SQLITE_PAGES_PER_STEP = 256


class SnapshotError(ValueError):
    """A dump that cannot be restored here (another release's tables, a target not empty); says why."""


def is_sqlite_file(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(16) == b"SQLite format 3\x00"


def copy_sqlite(source: Path, target: Path, progress: Progress | None = None) -> None:
    """One committed state of the SQLite database `source` (WAL included), written to `target`."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        def step(_status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(total - remaining, total)

        src.backup(dst, pages=SQLITE_PAGES_PER_STEP, progress=step)
    # `with` commits; the connections are closed here, not when collected.
    src.close()
    dst.close()


def dump_tables(engine: Engine, out: IO[bytes], progress: Progress | None = None) -> tuple[str | None, int]:
    """Every table of the store as of one instant, to `out`; returns the schema's Alembic revision and the
    number of rows."""
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        tables = metadata.sorted_tables
        total = sum(int(conn.execute(select(func.count()).select_from(t)).scalar() or 0) for t in tables)
        done = 0
        for table in tables:
            cbor2.dump({"table": table.name, "columns": [c.name for c in table.columns]}, out)
            for row in conn.execution_options(stream_results=True, yield_per=1000).execute(select(table)):
                cbor2.dump(list(row), out)
                done += 1
                if progress is not None and done % 500 == 0:
                    progress(done, total)
        cbor2.dump({"end": done}, out)  # what a complete dump ends with
        if progress is not None:
            progress(total, total)
    return (str(revision) if revision is not None else None), done


def restore_tables(engine: Engine, source: IO[bytes], revision: str, progress: Progress | None = None,
                   total: int = 0) -> None:
    """A dump of `dump_tables` into the EMPTY store of `engine`, then migrated to this release's head."""
    if inspect(engine).get_table_names():
        raise SnapshotError("the target database is not empty: restore into a new database or schema")
    config = alembic_config()
    done = 0
    with engine.begin() as conn:  # one transaction (PostgreSQL's DDL is transactional): all restored, or nothing
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, revision)
        except Exception as bad:
            raise SnapshotError(f"the dump's schema revision {revision} is unknown to this release: {bad}") from None
        seeded = {t.name for t in metadata.sorted_tables if t.name != "audit_entries"}
        for table, columns, chunk in _chunks(source):
            if table.name in seeded:  # rows the migrations wrote (the audit head, …) give way to the dump's
                conn.execute(delete(table))
                seeded.discard(table.name)
            conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in chunk])
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        if engine.dialect.name == "postgresql":
            _reset_sequences(conn)
    upgrade_to_head(engine)
    if current_revision(engine) is None:
        raise SnapshotError("the restored database has no schema revision")


def _chunks(source: IO[bytes]) -> Iterator[tuple[Table, list[str], list[list[Any]]]]:
    """The dump's rows, up to ROWS_PER_INSERT at a time, with their table and columns, streamed."""
    decoder = cbor2.CBORDecoder(source)
    table: Table | None = None
    columns: list[str] = []
    chunk: list[list[Any]] = []
    while True:
        try:
            entry = decoder.decode()
        except cbor2.CBORDecodeError as bad:
            raise SnapshotError(f"the dump is malformed or cut short: {bad}") from None
        if isinstance(entry, dict) and set(entry) == {"end"}:
            break
        if isinstance(entry, list):
            if table is None or len(entry) != len(columns):
                raise SnapshotError("the dump is malformed: a row outside its table, or of the wrong length")
            chunk.append(entry)
            if len(chunk) >= ROWS_PER_INSERT:
                yield table, columns, chunk
                chunk = []
            continue
        if not isinstance(entry, dict) or set(entry) != {"table", "columns"}:
            raise SnapshotError("the dump is malformed: a table header was expected")
        if table is not None and chunk:
            yield table, columns, chunk
            chunk = []
        table, columns = metadata.tables.get(str(entry["table"])), [str(c) for c in entry["columns"]]
        if table is None or not set(columns) <= set(table.columns.keys()):
            raise SnapshotError(f"the dump's table {entry['table']} does not match this release's tables")
    if table is not None and chunk:
        yield table, columns, chunk


def _reset_sequences(conn: Any) -> None:
    """Serial ids go on after the highest restored one."""
    for table in metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or keys[0].type.python_type is not int:
            continue
        name, column = table.name, keys[0].name
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": column}).scalar()
        if sequence:
            conn.execute(text(f'SELECT setval(:s, coalesce(max("{column}"), 0) + 1, false) FROM "{name}"'),
                         {"s": sequence})
