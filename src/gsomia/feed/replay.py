"""The sender's memory for repairing gaps: a bounded replay buffer per stream, optionally persisted.

Frames are kept as the bytes that went on the wire (already encoded, label by digest), with the
label frames beside them, so a replay is a re-send and never a re-encode. Bounded by count per
stream, by age and in total: a missile track older than its stale time is of no use to anyone, and
an unbounded buffer is a memory leak waiting for a long day.

Persistence (`SqliteReplayStore`) lets a restarted node still answer replays and continue each
stream's numbers. It is written behind, off the hot path: appends only queue the new frames
(`take_unsaved`), and the node's writer saves them a batch at a time in one transaction from a
worker thread, then prunes the file to the buffer's bounds. A crash loses at most the frames of the
last interval; the order of what is kept is never wrong.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cbor2

Clock = Callable[[], float]


class Stored(NamedTuple):
    """One buffered frame. A NamedTuple, not a dataclass, on purpose: a tuple holding only numbers
    and bytes is untracked by the cyclic GC, so a buffer of 100,000 frames adds nothing to the
    full collections that otherwise stall the loop for tens of milliseconds (the feed's p99)."""

    seq: int
    at: float        # when it was buffered (for the age bound)
    digest: bytes    # the label it is under
    frame: bytes


@dataclass
class Unsaved:
    """What the buffer took in since it was last saved, and the bounds the file is pruned to."""

    frames: dict[str, list[Stored]] = field(default_factory=dict)  # per stream, in the order buffered
    labels: dict[bytes, bytes] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)  # stream → next seq (what a restart resumes from)
    older_than: float = 0.0                                    # frames buffered before this are gone
    floors: dict[str, int] = field(default_factory=dict)      # stream → oldest seq still held

    def __bool__(self) -> bool:
        return bool(self.frames or self.labels or self.positions)


class SqliteReplayStore:
    """Survives restart; WAL with synchronous=NORMAL (a crash may lose the last moments, not order).

    Frames are stored a chunk at a time: one row per stream per write, its frames one CBOR blob. A row
    per frame cost the writer thread a Python round trip per frame, and while that thread holds the
    GIL the node's loop waits (the feed's p99); a chunk is encoded in C in one call. Pruning drops
    whole chunks past the bounds; loading drops the frames of a kept chunk that are past them.
    Used from one writer thread at a time; a lock makes that so whichever thread calls.
    """

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS chunks (stream TEXT NOT NULL, first_seq INTEGER NOT NULL,"
                         " last_seq INTEGER NOT NULL, newest_at REAL NOT NULL, frames BLOB NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS chunks_stream ON chunks (stream, last_seq)")
        self._db.execute("CREATE INDEX IF NOT EXISTS chunks_at ON chunks (newest_at)")
        self._db.execute("CREATE TABLE IF NOT EXISTS labels (digest BLOB PRIMARY KEY, frame BLOB NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS positions (stream TEXT PRIMARY KEY, next_seq INTEGER NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS origins (stream TEXT PRIMARY KEY, official TEXT NOT NULL,"
                         " label BLOB NOT NULL)")
        self._db.commit()

    def save(self, stream: str, items: Iterable[Stored], labels: Mapping[bytes, bytes]) -> None:
        """Frames of one stream, at once (tests and tools; a node saves through `write`)."""
        self.write(Unsaved({stream: list(items)}, dict(labels)))

    def write(self, unsaved: Unsaved) -> None:
        """One transaction: new labels, a chunk per stream, positions; then the file pruned to the bounds."""
        chunks = []
        for stream, items in unsaved.frames.items():
            if not items:
                continue
            seqs, ats, digests, frames = zip(*items, strict=True)  # four columns: encoded in C, in one call
            chunks.append((stream, min(seqs), max(seqs), max(ats), cbor2.dumps([seqs, ats, digests, frames])))
        with self._lock, self._db:
            self._db.executemany("INSERT OR IGNORE INTO labels VALUES (?, ?)", unsaved.labels.items())
            self._db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)", chunks)
            self._db.executemany("INSERT INTO positions VALUES (?, ?) ON CONFLICT (stream) DO UPDATE"
                                 " SET next_seq = MAX(next_seq, excluded.next_seq)", unsaved.positions.items())
            if unsaved.older_than:
                self._db.execute("DELETE FROM chunks WHERE newest_at < ?", (unsaved.older_than,))
            self._db.executemany("DELETE FROM chunks WHERE stream = ? AND last_seq < ?", unsaved.floors.items())

    def prune(self, older_than: float) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM chunks WHERE newest_at < ?", (older_than,))

    def load(self, since: float) -> tuple[dict[str, list[Stored]], dict[bytes, bytes]]:
        """Per stream, the frames buffered at or after `since`, in the order they were buffered."""
        streams: dict[str, list[Stored]] = {}
        with self._lock:
            rows = self._db.execute("SELECT stream, frames FROM chunks WHERE newest_at >= ? ORDER BY rowid",
                                    (since,)).fetchall()
            labels = {bytes(d): bytes(f) for d, f in self._db.execute("SELECT digest, frame FROM labels")}
        for stream, blob in rows:
            seqs, ats, digests, frames = cbor2.loads(blob)
            kept = streams.setdefault(str(stream), [])
            kept.extend(Stored(*item) for item in zip(seqs, ats, digests, frames, strict=True) if item[1] >= since)
        return {stream: items for stream, items in streams.items() if items}, labels

    def positions(self) -> dict[str, int]:
        """Per stream, the next number: kept even once every frame of the stream has been pruned."""
        with self._lock:
            return {str(s): int(n) for s, n in self._db.execute("SELECT stream, next_seq FROM positions")}

    def remember_origin(self, stream: str, official: str, label: bytes) -> None:
        """Who started a stream here and its label's canonical bytes (the stream keeps both for life)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO origins VALUES (?, ?, ?)", (stream, official, label))

    def origins(self) -> dict[str, tuple[str, bytes]]:
        with self._lock:
            return {str(s): (str(o), bytes(b)) for s, o, b in self._db.execute("SELECT stream, official, label"
                                                                              " FROM origins")}

    def close(self) -> None:
        with self._lock:
            self._db.close()


class ReplayBuffer:
    """Bounded three ways: per stream (count), by age, and in total across streams — at 5,000
    messages a second an age bound alone would hold millions of frames. Over the total, the frames
    appended longest ago go first, whichever stream they belong to."""

    def __init__(self, clock: Clock, max_per_stream: int = 50_000, max_age_s: float = 600.0,
                 store: SqliteReplayStore | None = None, max_total: int = 500_000) -> None:
        self._clock = clock
        self._max = max_per_stream
        self._max_age = max_age_s
        self._max_total = max_total
        self.store = store
        self._streams: dict[str, deque[Stored]] = {}
        # Which stream each append went to, oldest first: the eviction order across streams. It may
        # name frames already gone by the per-stream or age bound; those names are skipped.
        self._order: deque[str] = deque(maxlen=2 * max_total)
        self._total = 0
        self.labels: dict[bytes, bytes] = {}   # digest → label frame
        # Written behind, if persisted: per stream, so that the writer encodes each stream's in one call.
        self._unsaved: dict[str, list[Stored]] = {}
        self._unsaved_count = 0
        self._unsaved_labels: dict[bytes, bytes] = {}
        if store is not None:
            streams, self.labels = store.load(clock() - max_age_s)
            for name, items in streams.items():
                kept = items[-max_per_stream:]
                self._streams[name] = deque(kept, maxlen=max_per_stream)
                self._order.extend(name for _ in kept)
                self._total += len(kept)

    def add_label(self, digest: bytes, label_frame: bytes) -> None:
        self.labels[digest] = label_frame
        if self.store is not None:
            self._unsaved_labels[digest] = label_frame

    def append(self, stream: str, entries: list[tuple[int, bytes, bytes]]) -> None:
        """Buffer (seq, digest, frame) entries of one stream, in sequence order."""
        for seq, digest, frame in entries:
            self.append_one(stream, seq, digest, frame)

    def append_one(self, stream: str, seq: int, digest: bytes, frame: bytes) -> None:
        """The per-message hot path: an append, and the bounds checked against the oldest only."""
        now = self._clock()
        buf = self._streams.get(stream)
        if buf is None:
            buf = self._streams[stream] = deque(maxlen=self._max)
        if len(buf) == self._max:
            self._total -= 1  # the append below pushes this stream's oldest out
        stored = Stored(seq, now, digest, frame)
        buf.append(stored)
        if self.store is not None:
            self._keep_unsaved(stream, stored)
        self._order.append(stream)
        self._total += 1
        horizon = now - self._max_age
        while buf and buf[0].at < horizon:
            buf.popleft()
            self._total -= 1
        while self._total > self._max_total and self._order:
            victim = self._streams.get(self._order.popleft())
            if victim:
                victim.popleft()
                self._total -= 1

    def _keep_unsaved(self, stream: str, stored: Stored) -> None:
        pending = self._unsaved.get(stream)
        if pending is None:
            pending = self._unsaved[stream] = []
        pending.append(stored)
        self._unsaved_count += 1
        if self._unsaved_count > self._max_total:  # the writer is not keeping up: keep memory bounded
            for items in self._unsaved.values():
                drop = min(len(items), self._unsaved_count - self._max_total)
                del items[:drop]
                self._unsaved_count -= drop

    def take_unsaved(self, positions: Mapping[str, int] | None = None) -> Unsaved:
        """What to write behind (and forget here): new frames and labels, positions, the bounds."""
        frames, self._unsaved, self._unsaved_count = self._unsaved, {}, 0
        labels, self._unsaved_labels = self._unsaved_labels, {}
        floors = {stream: buf[0].seq for stream in frames if (buf := self._streams.get(stream))}
        return Unsaved(frames, labels, dict(positions or {}), self._clock() - self._max_age, floors)

    def save(self, positions: Mapping[str, int] | None = None) -> None:
        """Write what is unsaved now, in this thread (at close; a running node writes from a worker)."""
        if self.store is not None:
            unsaved = self.take_unsaved(positions)
            if unsaved:
                self.store.write(unsaved)

    def __len__(self) -> int:
        return self._total

    def replay(self, stream: str, first: int, last: int | None = None) -> tuple[list[Stored], int]:
        """Frames first..last (inclusive; None = to the newest) still held, and how many are not.

        The second number tells the asker what to count as lost instead of waiting for it.
        """
        buf = self._streams.get(stream)
        if not buf:
            return [], 0
        horizon = self._clock() - self._max_age
        # A plain scan: replays are rare, and a hub may buffer late fills out of order.
        top = last if last is not None else max(item.seq for item in buf)
        found = sorted((item for item in buf if first <= item.seq <= top and item.at >= horizon),
                       key=lambda item: item.seq)
        return found, max(0, top - first + 1 - len(found))

    def newest(self, stream: str) -> int:
        buf = self._streams.get(stream)
        return buf[-1].seq if buf else 0

    def streams(self) -> list[str]:
        return list(self._streams)
