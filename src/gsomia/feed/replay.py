"""The sender's memory for repairing gaps: a bounded replay buffer per stream.

Frames are kept as the bytes that went on the wire (already encoded, label by digest), with the
label frames beside them, so a replay is a re-send and never a re-encode. Bounded by count per
stream and by age: a missile track older than its stale time is of no use to anyone, and an
unbounded buffer is a memory leak waiting for a long day.

Optional persistence (`SqliteReplayStore`) lets a restarted node still answer replays. It is
written a batch at a time (one transaction per batch, executemany) because per-row commits would
cost more than the rest of the hop.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

Clock = Callable[[], float]


class Stored(NamedTuple):
    """One buffered frame. A NamedTuple, not a dataclass, on purpose: a tuple holding only numbers
    and bytes is untracked by the cyclic GC, so a buffer of 100,000 frames adds nothing to the
    full collections that otherwise stall the loop for tens of milliseconds (the feed's p99)."""

    seq: int
    at: float        # when it was buffered (for the age bound)
    digest: bytes    # the label it is under
    frame: bytes


class SqliteReplayStore:
    """Survives restart; WAL with synchronous=NORMAL (a crash may lose the last moments, not order)."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS frames (stream TEXT NOT NULL, seq INTEGER NOT NULL,"
                         " at REAL NOT NULL, digest BLOB NOT NULL, frame BLOB NOT NULL,"
                         " PRIMARY KEY (stream, seq))")
        self._db.execute("CREATE TABLE IF NOT EXISTS labels (digest BLOB PRIMARY KEY, frame BLOB NOT NULL)")
        self._db.commit()

    def save(self, stream: str, items: Iterable[Stored], labels: dict[bytes, bytes]) -> None:
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO labels VALUES (?, ?)", labels.items())
            self._db.executemany("INSERT OR REPLACE INTO frames VALUES (?, ?, ?, ?, ?)",
                                 [(stream, s.seq, s.at, s.digest, s.frame) for s in items])

    def prune(self, older_than: float) -> None:
        with self._db:
            self._db.execute("DELETE FROM frames WHERE at < ?", (older_than,))

    def load(self, since: float) -> tuple[dict[str, list[Stored]], dict[bytes, bytes]]:
        streams: dict[str, list[Stored]] = {}
        for stream, seq, at, digest, frame in self._db.execute(
                "SELECT stream, seq, at, digest, frame FROM frames WHERE at >= ? ORDER BY stream, seq",
                (since,)):
            streams.setdefault(stream, []).append(Stored(seq, at, digest, frame))
        labels = {bytes(d): bytes(f) for d, f in self._db.execute("SELECT digest, frame FROM labels")}
        return streams, labels

    def close(self) -> None:
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
        self._store = store
        self._streams: dict[str, deque[Stored]] = {}
        # Which stream each append went to, oldest first: the eviction order across streams. It may
        # name frames already gone by the per-stream or age bound; those names are skipped.
        self._order: deque[str] = deque(maxlen=2 * max_total)
        self._total = 0
        self.labels: dict[bytes, bytes] = {}   # digest → label frame
        if store is not None:
            streams, self.labels = store.load(clock() - max_age_s)
            for name, items in streams.items():
                kept = items[-max_per_stream:]
                self._streams[name] = deque(kept, maxlen=max_per_stream)
                self._order.extend(name for _ in kept)
                self._total += len(kept)

    def add_label(self, digest: bytes, label_frame: bytes) -> None:
        self.labels[digest] = label_frame

    def append(self, stream: str, entries: list[tuple[int, bytes, bytes]]) -> None:
        """Buffer (seq, digest, frame) entries of one stream, in sequence order (and persist them)."""
        for seq, digest, frame in entries:
            self._add(stream, seq, digest, frame)
        if self._store is not None:
            now = self._clock()
            items = [Stored(seq, now, digest, frame) for seq, digest, frame in entries]
            used = {s.digest for s in items}
            self._store.save(stream, items, {d: f for d, f in self.labels.items() if d in used})

    def append_one(self, stream: str, seq: int, digest: bytes, frame: bytes) -> None:
        if self._store is not None:
            self.append(stream, [(seq, digest, frame)])
        else:
            self._add(stream, seq, digest, frame)

    def _add(self, stream: str, seq: int, digest: bytes, frame: bytes) -> None:
        """The per-message hot path: an append, and the bounds checked against the oldest only."""
        now = self._clock()
        buf = self._streams.get(stream)
        if buf is None:
            buf = self._streams[stream] = deque(maxlen=self._max)
        if len(buf) == self._max:
            self._total -= 1  # the append below pushes this stream's oldest out
        buf.append(Stored(seq, now, digest, frame))
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
