"""Group commit for SQLite: every commit is on stable storage before its unit of work returns, but
concurrent commits share one fsync instead of paying one each.

SQLite in WAL mode with `synchronous=FULL` fsyncs the WAL inside every COMMIT, while the writer lock
is held: writers queue behind each other's fsync, so a node's write rate is capped at one commit per
fsync (about 1 ms on this machine's disk). With `synchronous=GROUP` (our name) the connection runs
with `synchronous=NORMAL`, so COMMIT only writes the WAL frames, and the unit of work then waits,
outside the writer lock, for an fsync of the WAL file that began after its commit was written. The
first waiter does that fsync for everybody whose commit was written before it started (leader and
followers, as in PostgreSQL's and MySQL's group commit); the others wait for it or for the next one.

What this keeps: a unit of work that returned has its WAL frames on disk, as under FULL, so an
acknowledged write survives power loss, not only a process crash. SQLite replays committed WAL
frames on the next open; frames whose checksums do not match (a torn write after the last fsync)
belong to commits nobody acknowledged. Checkpoints under NORMAL fsync the WAL before copying it into
the database file and the database file after, so nothing acknowledged lives only in a WAL that a
checkpoint resets. The WAL file is opened afresh for each fsync because SQLite may delete it when the
last connection closes and create a new one later.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class WalFlusher:
    """Waits until the WAL holds every commit written so far on stable storage; shares the fsyncs."""

    def __init__(self, database_path: str | Path) -> None:
        self._wal = Path(f"{database_path}-wal")
        self._condition = threading.Condition()
        self._written = 0  # commits written (COMMIT returned), numbered in order
        self._synced = 0  # every commit up to this number is on stable storage
        self._syncing = False

    def committed(self) -> int:
        """Call right after a COMMIT returned; the number to pass to `wait_durable`."""
        with self._condition:
            self._written += 1
            return self._written

    def wait_durable(self, commit: int) -> None:
        with self._condition:
            while self._synced < commit:
                if self._syncing:
                    self._condition.wait()
                    continue
                self._syncing = True
                covered = self._written  # these commits were written before the fsync starts
                self._condition.release()
                try:
                    self._fsync_wal()
                finally:
                    self._condition.acquire()
                    self._syncing = False
                    self._condition.notify_all()
                self._synced = max(self._synced, covered)

    def _fsync_wal(self) -> None:
        try:
            descriptor = os.open(self._wal, os.O_RDONLY)
        except FileNotFoundError:
            return  # no WAL: everything is in the database file, which the checkpoint synced
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
