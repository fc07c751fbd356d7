"""Crash safety and concurrent appenders, against real processes on both backends.

Crash: a child appends entries one transaction at a time and prints each seq after its commit; we
SIGKILL it mid-stream, reopen, and check every acknowledged entry is there and the chain verifies.
SQLite runs with synchronous=FULL in WAL mode, so a commit has been fsynced when it returns.
Bounded: the child stops by itself after MAX entries; no sleeps or timing thresholds.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from gsomia.services.audit_chain import verify_chain
from gsomia.storage.repositories import AuditRepository, stream_raw_entries

SCRIPT = Path(__file__).with_name("appender.py")
MAX = 5_000


def _spawn(engine: Engine, schema: str | None, count: int, name: str, pause: str = "0") -> subprocess.Popen[str]:
    url = engine.url.render_as_string(hide_password=False)
    return subprocess.Popen([sys.executable, str(SCRIPT), url, schema or "-", str(count), name, pause],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _start(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "ready"
    child.stdin.write("go\n")
    child.stdin.close()


def _schema(database: tuple[str, str | None]) -> str | None:
    return database[1]


def _verify(engine: Engine) -> tuple[int, list[str]]:
    report = verify_chain(stream_raw_entries(engine), [], check_signature=None)
    assert report.ok, report.problem
    with engine.connect() as conn:
        head_seq, head_hash = AuditRepository(conn).head()
        subjects = [e.subject or "" for e in AuditRepository(conn).tail(MAX * 2)]
    assert (head_seq, head_hash) == (report.last_seq or 0, report.head_hash or head_hash)
    return head_seq, subjects


def test_acknowledged_appends_survive_sigkill(engine: Engine, database: tuple[str, str | None]) -> None:
    child = _spawn(engine, _schema(database), MAX, "crash")
    _start(child)
    assert child.stdout is not None
    acknowledged = []
    for line in child.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) == 150:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL, "the child finished before it was killed"
    head, subjects = _verify(engine)
    assert head >= acknowledged[-1]
    assert acknowledged == list(range(1, len(acknowledged) + 1))
    assert {f"crash-{n}" for n in range(len(acknowledged))} <= set(subjects)


def test_two_processes_appending_do_not_fork_the_chain(engine: Engine, database: tuple[str, str | None]) -> None:
    count = 150
    # A 5 ms pause between transactions lets the other process in (see appender.py), and keeps each
    # child busy long enough (≥ 0.75 s) that a loaded machine starting one late still sees them overlap.
    children = [_spawn(engine, _schema(database), count, name, "0.005") for name in ("left", "right")]
    for child in children:  # both are connected and waiting: release them together
        _start(child)
    seqs: list[int] = []
    for child in children:
        assert child.stdout is not None
        seqs += [int(x) for x in child.stdout.read().split()]
        assert child.wait(timeout=120) == 0
        child.stdout.close()
    assert sorted(seqs) == list(range(1, 2 * count + 1))  # every seq handed out exactly once
    head, subjects = _verify(engine)
    assert head == 2 * count
    assert {f"{name}-{n}" for name in ("left", "right") for n in range(count)} == set(subjects)
    switches = sum(1 for a, b in zip(subjects, subjects[1:], strict=False) if a.split("-")[0] != b.split("-")[0])
    assert switches > 1, "the two appenders never interleaved, so this proved nothing"
