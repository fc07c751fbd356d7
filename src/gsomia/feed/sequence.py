"""No silent gaps: per-stream sequence tracking on the receiving side.

Every stream numbers its messages 1, 2, 3, … A receiver remembers, per stream, the next number it
expects and the numbers it has seen skipped. A jump ahead is delivered at once (a newer track
position is worth more than order) and the skipped range is reported so the caller can ask the
sender to replay it; a late arrival that fills a hole is delivered and marked late; anything else
below the high-water mark is a duplicate and dropped. Staleness is judged by the message's own
stale time against an injected clock, never the receiver's guess.

Holes are bounded: past `max_missing` per stream the oldest are given up and counted as `lost`, so
even a loss the replay buffer cannot repair is counted, not silent.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


class Verdict(enum.Enum):
    NEW = "new"              # the next or a later number: deliver
    LATE = "late"            # fills a hole reported earlier: deliver, marked late
    DUPLICATE = "duplicate"  # seen before: drop


@dataclass(frozen=True, slots=True)
class Observation:
    verdict: Verdict
    stale: bool
    # Holes this message revealed, as inclusive (first, last) ranges: ask the sender to replay them.
    gaps: tuple[tuple[int, int], ...] = ()

    @property
    def deliver(self) -> bool:
        return self.verdict is not Verdict.DUPLICATE


@dataclass(slots=True)
class _StreamState:
    next_seq: int = 1
    missing: dict[int, None] = field(default_factory=dict)  # insertion-ordered set: oldest first
    lost: int = 0


# The common outcomes, shared: an in-order message should not cost an allocation.
_IN_ORDER = Observation(Verdict.NEW, False)
_IN_ORDER_STALE = Observation(Verdict.NEW, True)


class SequenceTracker:
    def __init__(self, clock: Clock, max_missing: int = 10_000) -> None:
        self._clock = clock
        self._max_missing = max_missing
        self._streams: dict[str, _StreamState] = {}
        self.duplicates = 0
        self.stale = 0

    def observe(self, stream: str, seq: int, stale_at: float) -> Observation:
        state = self._streams.get(stream)
        if state is None:
            state = self._streams[stream] = _StreamState()
        is_stale = self._clock() >= stale_at
        if is_stale:
            self.stale += 1
        if seq == state.next_seq:  # the common case first: in order
            state.next_seq += 1
            return _IN_ORDER_STALE if is_stale else _IN_ORDER
        if seq > state.next_seq:
            gap = (state.next_seq, seq - 1)
            for missing in range(state.next_seq, seq):
                state.missing[missing] = None
            state.next_seq = seq + 1
            self._bound(state)
            return Observation(Verdict.NEW, is_stale, (gap,))
        if seq in state.missing:
            del state.missing[seq]
            return Observation(Verdict.LATE, is_stale)
        self.duplicates += 1
        return Observation(Verdict.DUPLICATE, is_stale)

    def _bound(self, state: _StreamState) -> None:
        excess = len(state.missing) - self._max_missing
        if excess > 0:
            for seq in list(state.missing)[:excess]:
                del state.missing[seq]
            state.lost += excess

    def restore(self, stream: str, next_seq: int) -> None:
        """After a restart: continue from what the persisted replay buffer holds (holes inside it
        are not remembered; an upstream resumes from `next_seq`)."""
        state = self._streams.setdefault(stream, _StreamState())
        state.next_seq = max(state.next_seq, next_seq)

    def next_seq(self, stream: str) -> int:
        """The next number expected on `stream` (1 for a stream never seen)."""
        state = self._streams.get(stream)
        return state.next_seq if state is not None else 1

    def positions(self) -> dict[str, int]:
        """Per stream, the next number expected: what a reconnecting sender resumes from."""
        return {name: s.next_seq for name, s in self._streams.items()}

    def missing(self, stream: str) -> list[tuple[int, int]]:
        """Outstanding holes as inclusive ranges, oldest first."""
        state = self._streams.get(stream)
        if state is None or not state.missing:
            return []
        ranges: list[tuple[int, int]] = []
        for seq in sorted(state.missing):
            if ranges and ranges[-1][1] == seq - 1:
                ranges[-1] = (ranges[-1][0], seq)
            else:
                ranges.append((seq, seq))
        return ranges

    def lost(self, stream: str) -> int:
        state = self._streams.get(stream)
        return state.lost if state else 0

    def give_up(self, stream: str, first: int, last: int) -> int:
        """The sender cannot replay these (aged out of its buffer): count them lost, stop asking."""
        state = self._streams.get(stream)
        if state is None:
            return 0
        gone = [s for s in state.missing if first <= s <= last]
        for seq in gone:
            del state.missing[seq]
        state.lost += len(gone)
        return len(gone)
