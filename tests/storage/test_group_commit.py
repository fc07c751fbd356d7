"""Group commit (storage/group_commit.py): a unit of work returns only after an fsync of the WAL that
started after its commit was written; concurrent commits share fsyncs; a failed fsync is not hidden.

A power cut cannot be staged here; what is checked is the ordering that makes it safe: every
acknowledged commit number is covered by an fsync that began after that commit was written.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gsomia.services.audit_log import EntryDraft, append
from gsomia.storage import open_store, upgrade_to_head
from gsomia.storage.group_commit import WalFlusher


class RecordingFlusher(WalFlusher):
    """Records, for each fsync, how many commits had been written when it started."""

    def __init__(self, database_path: str | Path) -> None:
        super().__init__(database_path)
        self.fsyncs_covering: list[int] = []
        self.real_fsyncs = 0

    def _fsync_wal(self) -> None:
        self.fsyncs_covering.append(self._written)
        super()._fsync_wal()
        self.real_fsyncs += 1


def test_a_commit_waits_for_an_fsync_begun_after_it(tmp_path: Path) -> None:
    flusher = RecordingFlusher(tmp_path / "x.db")
    (tmp_path / "x.db-wal").write_bytes(b"frames")
    first = flusher.committed()
    flusher.wait_durable(first)
    second = flusher.committed()
    flusher.wait_durable(second)
    assert flusher.fsyncs_covering == [1, 2]  # the first fsync did not count for the second commit
    flusher.wait_durable(first)  # already durable: no new fsync
    assert flusher.fsyncs_covering == [1, 2]


def test_concurrent_commits_share_fsyncs_and_every_one_is_covered(tmp_path: Path) -> None:
    flusher = RecordingFlusher(tmp_path / "x.db")
    (tmp_path / "x.db-wal").write_bytes(b"frames")
    acknowledged: list[int] = []
    lock = threading.Lock()

    def writer() -> None:
        for _ in range(200):
            commit = flusher.committed()
            flusher.wait_durable(commit)
            with lock:
                # acknowledged only once some fsync that started after this commit has finished
                assert any(covered >= commit for covered in flusher.fsyncs_covering[:flusher.real_fsyncs])
                acknowledged.append(commit)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(acknowledged) == list(range(1, 1601))


def test_commits_written_during_an_fsync_share_the_next_one(tmp_path: Path) -> None:
    """Eight commits written while a first fsync is held up: the next fsync covers all of them at once."""
    flusher = GatedFlusher(tmp_path / "x.db")
    (tmp_path / "x.db-wal").write_bytes(b"frames")
    first = flusher.committed()
    leader = threading.Thread(target=flusher.wait_durable, args=(first,))
    leader.start()
    assert flusher.in_fsync.wait(5)  # the leader is inside its fsync, covering commit 1 only
    followers = [flusher.committed() for _ in range(8)]
    waiting = [threading.Thread(target=flusher.wait_durable, args=(c,)) for c in followers]
    for thread in waiting:
        thread.start()
    flusher.release.set()
    for thread in [leader, *waiting]:
        thread.join(10)
    assert flusher.fsyncs_covering == [1, 9]  # two fsyncs for nine commits, not nine


class GatedFlusher(RecordingFlusher):
    """Holds its first fsync until released, to let commits pile up behind it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.in_fsync, self.release = threading.Event(), threading.Event()

    def _fsync_wal(self) -> None:
        self.fsyncs_covering.append(self._written)  # what this fsync covers is fixed as it starts
        if not self.in_fsync.is_set():
            self.in_fsync.set()
            assert self.release.wait(5)
        WalFlusher._fsync_wal(self)
        self.real_fsyncs += 1


def test_a_failing_fsync_reaches_the_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flusher = WalFlusher(tmp_path / "x.db")
    (tmp_path / "x.db-wal").write_bytes(b"frames")

    def broken(_descriptor: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("gsomia.storage.group_commit.os.fsync", broken)
    with pytest.raises(OSError):
        flusher.wait_durable(flusher.committed())


def test_a_node_store_waits_for_the_flusher_after_each_write(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade_to_head(store.engine)
    flusher = RecordingFlusher(tmp_path / "node.db")
    store._flusher = flusher  # noqa: SLF001 — observe the store's own flusher
    for n in range(5):
        with store.unit_of_work() as uow:
            append(uow, datetime.now(timezone.utc), [EntryDraft("t", "test", "test.append", str(n), None, (), ())])
    with store.unit_of_work(readonly=True) as uow:
        assert uow.audit.head()[0] == 5
    assert flusher.fsyncs_covering == [1, 2, 3, 4, 5]  # one after each acknowledged commit; reads wait for none
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        append(uow, datetime.now(timezone.utc), [EntryDraft("t", "test", "test.append", "x", None, (), ())])
        raise RuntimeError("rolled back")
    assert flusher.fsyncs_covering == [1, 2, 3, 4, 5]  # a rolled-back unit waits for nothing
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL: the flusher fsyncs instead
    store.dispose()


def test_full_and_memory_stores_have_no_flusher(tmp_path: Path) -> None:
    assert open_store(f"sqlite:///{tmp_path / 'a.db'}", sqlite_synchronous="FULL")._flusher is None  # noqa: SLF001
    assert open_store("sqlite://")._flusher is None  # noqa: SLF001
