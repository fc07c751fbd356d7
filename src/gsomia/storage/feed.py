"""The missile-warning feed's records: who started each stream, and the replay buffer written behind the feed.

- `FeedStreamsRepository` (a unit of work's `feed_streams`): a stream's origin, written in the transaction of its
  originate decision and its audit entry; a restarted node gives each stream back to its official.
- `ReplayStore`: the frames the feed's replay buffer took in, written behind it from a worker thread (see
  `gsomia.feed.replay`), and each stream's next number. On a PostgreSQL node it writes to the node's own
  schema (`replay_store_in`); a SQLite node keeps a file of its own beside its database
  (`open_replay_file`, DATA/feed-replay.db, made from the same table definitions), so that the feed's
  writes never queue behind the node's writer lock, with synchronous=NORMAL: a crash may lose the last
  moments of history, never its order.

Frames are stored a chunk at a time: one row per stream per write, its frames one CBOR blob. A row per
frame cost the writing thread a Python round trip per frame, and while that thread holds the GIL the
feed's loop waits (the feed's p99); a chunk is encoded in C in one call. Pruning drops whole chunks past
the bounds; loading drops the frames of a kept chunk that are past them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cbor2
from sqlalchemy import Engine, bindparam, case, create_engine, delete, event, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.expression import ClauseElement

from gsomia.storage import tables as t
from gsomia.storage.engine import private_on_connect
from gsomia.storage.records import Stored, StreamOrigin, Unsaved

_STREAM = select(t.feed_streams).where(t.feed_streams.c.stream == bindparam("stream"))
_STREAMS = select(t.feed_streams)
_ADD_STREAM = insert(t.feed_streams)


class FeedStreamsRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, stream: str) -> StreamOrigin | None:
        row = self._conn.execute(_STREAM, {"stream": stream}).first()
        return StreamOrigin(*row) if row is not None else None

    def all(self) -> list[StreamOrigin]:
        return [StreamOrigin(*row) for row in self._conn.execute(_STREAMS)]

    def add(self, origin: StreamOrigin) -> None:
        self._conn.execute(_ADD_STREAM, {"stream": origin.stream, "official_id": origin.official_id,
                                         "label_bytes": origin.label_bytes, "started_at": origin.started_at})


class _Prepared:
    """A statement compiled once for the engine's dialect and run by the driver on plain rows.

    SQLAlchemy builds and processes every row's parameters in Python, which for the hundreds of rows of a
    write (a chunk, a position and a floor per stream) cost more than the driver's own work, on a thread
    whose GIL the feed's loop then waits for (bench_feed's CPU per message and p99).
    """

    def __init__(self, engine: Engine, statement: ClauseElement, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=engine.dialect, column_keys=list(keys))
        self._sql = str(compiled)
        self._order: list[str] | None = getattr(compiled, "positiontup", None)  # qmark: the order; named: None

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        order = self._order
        conn.exec_driver_sql(self._sql, rows if order is None else [tuple(row[k] for k in order) for row in rows])


def _one_of_each(items: list[Stored]) -> list[Stored]:
    if all(a.seq < b.seq for a, b in zip(items, items[1:], strict=False)):
        return items  # one writer: already so
    return sorted({stored.seq: stored for stored in items}.values(), key=lambda stored: stored.seq)


class ReplayStore:
    """The replay buffer's store (see the module docstring). Used from one writing thread at a time; a
    lock makes that so whichever thread calls."""

    def __init__(self, engine: Engine, *, owns_engine: bool = False) -> None:
        self.engine = engine
        self._owns_engine = owns_engine
        self._lock = threading.Lock()
        upsert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        labels, positions, chunks = upsert(t.feed_labels), upsert(t.feed_positions), t.feed_chunks.c
        current, offered = t.feed_positions.c.next_seq, positions.excluded.next_seq
        self._add_labels = _Prepared(engine, labels.on_conflict_do_nothing(index_elements=["digest"]),
                                     ("digest", "frame"))
        self._add_chunks = _Prepared(engine, insert(t.feed_chunks),
                                     ("stream", "first_seq", "last_seq", "newest_at", "frames"))
        self._set_positions = _Prepared(engine, positions.on_conflict_do_update(  # a position only ever moves on
            index_elements=["stream"], set_={"next_seq": case((offered > current, offered), else_=current)}),
            ("stream", "next_seq"))
        self._prune_age = _Prepared(engine, delete(t.feed_chunks).where(chunks.newest_at < bindparam("older_than")),
                                    ("older_than",))
        self._prune_floors = _Prepared(engine, delete(t.feed_chunks).where(chunks.stream == bindparam("floor_stream"),
                                                                           chunks.last_seq < bindparam("floor")),
                                       ("floor_stream", "floor"))
        self._load = select(chunks.stream, chunks.frames).where(chunks.newest_at >= bindparam("since")) \
            .order_by(chunks.id)

    def write(self, unsaved: Unsaved) -> None:
        """One transaction: new labels, a chunk per stream, positions; then the store pruned to the bounds."""
        chunks = []
        for stream, items in unsaved.frames.items():
            if not items:
                continue
            seqs, ats, digests, frames = zip(*items, strict=True)  # four columns: encoded in C, in one call
            chunks.append({"stream": stream, "first_seq": min(seqs), "last_seq": max(seqs), "newest_at": max(ats),
                           "frames": cbor2.dumps([seqs, ats, digests, frames])})
        with self._lock, self.engine.begin() as conn:
            if unsaved.labels:
                self._add_labels.run(conn, [{"digest": d, "frame": f} for d, f in unsaved.labels.items()])
            if chunks:
                self._add_chunks.run(conn, chunks)
            if unsaved.positions:
                self._set_positions.run(conn, [{"stream": s, "next_seq": n} for s, n in unsaved.positions.items()])
            if unsaved.older_than:
                self._prune_age.run(conn, [{"older_than": unsaved.older_than}])
            if unsaved.floors:
                self._prune_floors.run(conn, [{"floor_stream": s, "floor": n} for s, n in unsaved.floors.items()])

    def load(self, since: float) -> tuple[dict[str, list[Stored]], dict[bytes, bytes]]:
        """Per stream, the frames buffered at or after `since`, in the order they were buffered; the labels."""
        streams: dict[str, list[Stored]] = {}
        with self._lock, self.engine.connect() as conn:
            rows = conn.execute(self._load, {"since": since}).all()
            labels = {bytes(d): bytes(f) for d, f in conn.execute(select(t.feed_labels.c.digest,
                                                                         t.feed_labels.c.frame))}
        for stream, blob in rows:
            seqs, ats, digests, frames = cbor2.loads(blob)
            kept = streams.setdefault(str(stream), [])
            kept.extend(Stored(*item) for item in zip(seqs, ats, digests, frames, strict=True) if item[1] >= since)
        # Feed processes sharing a broker (feed/nats_broker.py) each write the stream as they took it: one copy of
        # each number, in number order.
        return {stream: _one_of_each(items) for stream, items in streams.items() if items}, labels

    def positions(self) -> dict[str, int]:
        """Per stream, the next number: kept even once every frame of the stream has been pruned."""
        with self._lock, self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(select(t.feed_positions.c.stream,
                                                                   t.feed_positions.c.next_seq))}

    def close(self) -> None:
        """Releases the file of a SQLite node's store; the engine of a PostgreSQL node's is the node's own."""
        with self._lock:
            if self._owns_engine:
                self.engine.dispose()


def replay_store_in(engine: Engine) -> ReplayStore:
    """The replay store in the node's own database (a PostgreSQL node: its schema, migration 0006)."""
    return ReplayStore(engine)


def open_replay_file(path: str | Path) -> ReplayStore:
    """The replay store in a SQLite file of its own, its tables created if need be (WAL, synchronous=NORMAL)."""
    engine = create_engine(f"sqlite:///{path}")
    private_on_connect(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    t.metadata.create_all(engine, tables=list(t.REPLAY_TABLES))
    return ReplayStore(engine, owns_engine=True)
