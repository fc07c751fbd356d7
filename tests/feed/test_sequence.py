"""No silent gaps: gaps reported, duplicates dropped, staleness by the message's own stale time."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from gsomia.feed.replay import ReplayBuffer
from gsomia.feed.sequence import SequenceTracker, Verdict
from gsomia.storage.feed import ReplayStore


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_in_order_gap_late_fill_and_duplicate() -> None:
    t = SequenceTracker(Clock())
    assert t.observe("s", 1, 2000.0).verdict is Verdict.NEW
    jump = t.observe("s", 5, 2000.0)
    assert jump.verdict is Verdict.NEW and jump.gaps == ((2, 4),)
    assert t.missing("s") == [(2, 4)]
    assert t.observe("s", 3, 2000.0).verdict is Verdict.LATE
    assert t.missing("s") == [(2, 2), (4, 4)]
    dup = t.observe("s", 3, 2000.0)
    assert dup.verdict is Verdict.DUPLICATE and not dup.deliver
    assert t.observe("s", 5, 2000.0).verdict is Verdict.DUPLICATE
    assert t.duplicates == 2
    assert t.positions() == {"s": 6}


def test_a_new_stream_that_starts_late_reports_the_missing_start() -> None:
    t = SequenceTracker(Clock())
    assert t.observe("s", 4, 2000.0).gaps == ((1, 3),)


def test_staleness_uses_the_message_stale_time_and_the_injected_clock() -> None:
    clock = Clock(1000.0)
    t = SequenceTracker(clock)
    assert not t.observe("s", 1, 1005.0).stale
    clock.now = 1005.0
    assert t.observe("s", 2, 1005.0).stale
    assert t.stale == 1


def test_holes_are_bounded_and_overflow_is_counted_lost() -> None:
    t = SequenceTracker(Clock(), max_missing=10)
    t.observe("s", 1, 2000.0)
    t.observe("s", 100, 2000.0)
    assert t.lost("s") == 88
    assert t.missing("s") == [(90, 99)]
    assert t.give_up("s", 90, 94) == 5
    assert t.lost("s") == 93


@given(st.lists(st.integers(1, 60), max_size=200))
def test_every_number_is_delivered_exactly_once_or_reported_missing(seqs: list[int]) -> None:
    t = SequenceTracker(Clock())
    delivered: list[int] = []
    for seq in seqs:
        if t.observe("s", seq, 2000.0).deliver:
            delivered.append(seq)
    assert len(delivered) == len(set(delivered))
    top = max(seqs, default=0)
    holes = {s for a, b in t.missing("s") for s in range(a, b + 1)}
    assert set(delivered) | holes == set(range(1, top + 1))
    assert not set(delivered) & holes


def test_replay_buffer_bounds_by_count_and_age() -> None:
    clock = Clock(0.0)
    buf = ReplayBuffer(clock, max_per_stream=5, max_age_s=10.0)
    buf.append("s", [(i, b"d", b"f%d" % i) for i in range(1, 9)])
    got, missing = buf.replay("s", 1, 8)
    assert [s.seq for s in got] == [4, 5, 6, 7, 8] and missing == 3
    clock.now = 20.0
    got, missing = buf.replay("s", 4)
    assert got == [] and missing == 5


def test_replay_buffer_survives_restart_through_its_store(open_replay_store: Callable[[], ReplayStore]) -> None:
    clock = Clock(100.0)
    store = open_replay_store()
    buf = ReplayBuffer(clock, store=store)
    buf.add_label(b"d", b"label-frame")
    buf.append("s", [(1, b"d", b"one"), (2, b"d", b"two")])
    buf.save({"s": 3})  # written behind: nothing reaches the store before the writer (here: now) saves
    store.close()
    reopened = open_replay_store()
    again = ReplayBuffer(clock, store=reopened)
    got, missing = again.replay("s", 1)
    assert [s.frame for s in got] == [b"one", b"two"] and missing == 0
    assert again.labels == {b"d": b"label-frame"}
    assert reopened.positions() == {"s": 3}
    reopened.close()


def test_two_processes_writing_one_store_leave_one_copy_of_each_number_in_order(
        open_replay_store: Callable[[], ReplayStore]) -> None:
    """Feed processes sharing a broker each take the whole stream and write it behind, at their own moments: the
    store holds overlapping chunks, and a restart reads back each number once, in number order."""
    clock = Clock(100.0)
    store = open_replay_store()
    first, second = ReplayBuffer(clock, store=store), ReplayBuffer(clock, store=store)
    for buf in (first, second):
        buf.add_label(b"d", b"label-frame")
    first.append("s", [(3, b"d", b"three"), (4, b"d", b"four")])
    first.save({"s": 5})
    second.append("s", [(1, b"d", b"one"), (2, b"d", b"two"), (3, b"d", b"three")])  # started earlier
    second.save({"s": 4})
    first.append("s", [(5, b"d", b"five")])
    first.save({"s": 6})
    store.close()
    reopened = open_replay_store()
    again = ReplayBuffer(clock, store=reopened)
    got, missing = again.replay("s", 1)
    assert [(s.seq, s.frame) for s in got] == [(1, b"one"), (2, b"two"), (3, b"three"), (4, b"four"), (5, b"five")]
    assert missing == 0 and reopened.positions() == {"s": 6}
    reopened.close()


def test_the_persisted_buffer_is_pruned_to_the_same_bounds(open_replay_store: Callable[[], ReplayStore]) -> None:
    clock = Clock(0.0)
    store = open_replay_store()

    def after_restart() -> dict[str, list[int]]:
        again = ReplayBuffer(clock, max_per_stream=3, max_age_s=10.0, store=store)
        return {s: [x.seq for x in again.replay(s, 1)[0]] for s in again.streams()}

    def in_file() -> dict[str, list[int]]:
        return {s: [x.seq for x in frames] for s, frames in store.load(-1.0)[0].items()}

    buf = ReplayBuffer(clock, max_per_stream=3, max_age_s=10.0, store=store)
    buf.append("s", [(i, b"d", b"s%d" % i) for i in range(1, 6)])   # count: keeps 3..5
    buf.append("old", [(1, b"d", b"o1")])
    buf.save({"s": 6, "old": 2})
    clock.now = 8.0
    buf.append("s", [(6, b"d", b"s6")])
    buf.save({"s": 7})
    assert after_restart() == {"s": [4, 5, 6], "old": [1]}
    clock.now = 15.0  # age: what was buffered at 0 is gone, from memory and from the file
    buf.append("s", [(7, b"d", b"s7")])
    buf.save({"s": 8})
    assert in_file() == {"s": [6, 7]} and after_restart() == {"s": [6, 7]}
    buf.append("s", [(i, b"d", b"s%d" % i) for i in range(8, 12)])   # count: the chunk with 6 and 7 goes
    buf.save({"s": 12})
    assert in_file() == {"s": [8, 9, 10, 11]} and after_restart() == {"s": [9, 10, 11]}
    assert store.positions() == {"s": 12, "old": 2}  # the numbers outlive the frames
    store.close()


def test_replay_buffer_total_bound_evicts_the_oldest_across_streams() -> None:
    buf = ReplayBuffer(Clock(0.0), max_per_stream=100, max_total=5)
    for seq in (1, 2, 3):
        buf.append_one("a", seq, b"d", b"a%d" % seq)
        buf.append_one("b", seq, b"d", b"b%d" % seq)
    assert len(buf) == 5
    assert [s.seq for s in buf.replay("a", 1)[0]] == [2, 3]
    assert [s.seq for s in buf.replay("b", 1)[0]] == [1, 2, 3]


def test_frames_waiting_to_be_written_are_bounded_too(open_replay_store: Callable[[], ReplayStore]) -> None:
    store = open_replay_store()
    buf = ReplayBuffer(Clock(0.0), max_total=5, store=store)
    for seq in range(1, 9):
        buf.append_one("a", seq, b"d", b"a%d" % seq)
    unsaved = buf.take_unsaved()
    assert [s.seq for s in unsaved.frames["a"]] == [4, 5, 6, 7, 8]  # the writer fell behind: the newest wait
    assert not buf.take_unsaved()
    store.close()
