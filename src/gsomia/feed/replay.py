"""The sender's memory for repairing gaps: a bounded replay buffer per stream, optionally persisted.

Frames are kept as the bytes that went on the wire (already encoded, label by digest), with the
label frames beside them, so a replay is a re-send and never a re-encode. Bounded by count per
stream, by age and in total: a missile track older than its stale time is of no use to anyone, and
an unbounded buffer is a memory leak waiting for a long day.

Persistence (a `FrameStore`: the node's `gsomia.storage.feed.ReplayStore`, which the services open)
lets a restarted node still answer replays and continue each stream's numbers. It is written behind,
off the hot path: appends only queue the new frames (`take_unsaved`), and the node saves them a batch
at a time in one transaction from a worker thread, then prunes the store to the buffer's bounds. A
crash loses at most the frames of the last interval; the order of what is kept is never wrong.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol

from gsomia.services.records import Stored, Unsaved

Clock = Callable[[], float]


class FrameStore(Protocol):
    """Where a replay buffer is written behind (`gsomia.storage.feed.ReplayStore`)."""

    def write(self, unsaved: Unsaved) -> None:
        """One transaction: the new frames, labels and positions; then pruned to the buffer's bounds."""
        ...

    def load(self, since: float) -> tuple[dict[str, list[Stored]], dict[bytes, bytes]]:
        """Per stream, the frames buffered at or after `since`, in order; and the label frames."""
        ...

    def positions(self) -> dict[str, int]:
        """Per stream, the next number (kept after its frames are pruned)."""
        ...


class ReplayBuffer:
    """Bounded three ways: per stream (count), by age, and in total across streams — at 5,000
    messages a second an age bound alone would hold millions of frames. Over the total, the frames
    appended longest ago go first, whichever stream they belong to."""

    def __init__(self, clock: Clock, max_per_stream: int = 50_000, max_age_s: float = 600.0,
                 store: FrameStore | None = None, max_total: int = 500_000) -> None:
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
