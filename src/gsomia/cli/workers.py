"""`gsomia serve --workers N`: N worker processes of one node, supervised.

Each worker is `gsomia serve --worker i` with the same data directory and environment (the key passphrase
included): it serves the officials' API and the peer endpoint on the node's ports, which all workers bind
(SO_REUSEPORT: the kernel spreads connections over them), and sends from the shared outbox, whose rows each
worker claims with a lease (federation/sender.py). Worker 0 alone anchors the audit trail; the missile-warning
feed is served by every worker if the node has a feed broker (`feed_broker`), else by worker 0 alone. The
store must be PostgreSQL: SQLite has one writer at a time, and its group commit and writer queue are one
process's.

Across workers: a token revoked or an official suspended is refused by every worker within the token
cache's TTL (services/token_cache.py, 1 s); the failed-login throttle counts per worker, so an address gets
at most N times its budget of lookups per window (services/throttle.py). A worker that dies is started
again (after a pause that doubles, up to 30 s, while it keeps dying); what it had claimed leaves from the
other workers once its lease (outbox_lease_s) has run out. SIGTERM or Ctrl-C stops them all.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from gsomia.cli.options import EXIT_BAD_INPUT, EXIT_UNAVAILABLE

MAX_PAUSE_S = 30.0
STEADY_S = 60.0  # a worker that ran this long before dying is restarted at once


def sqlite_refusal(database_url: str) -> str | None:
    """Why this store cannot have several workers, or None."""
    if database_url.startswith("postgresql"):
        return None
    return ("--workers > 1 needs PostgreSQL (database_url = 'postgresql+psycopg://…'): SQLite takes one writer "
            "at a time and its commits are grouped in one process; serve it with one worker")


def supervise(data: Path, workers: int) -> int:
    """Run `workers` workers until SIGTERM/SIGINT; the exit code."""
    from gsomia.cli.output import err
    from gsomia.config import ConfigError, load_settings

    try:
        settings = load_settings(data)
    except ConfigError as bad:
        err().print(f"error: {bad}")
        return EXIT_BAD_INPUT
    refusal = sqlite_refusal(settings.effective_database_url)
    if refusal is not None:
        err().print(f"error: {refusal}")
        return EXIT_BAD_INPUT
    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running = {i: _start(data, workers, i) for i in range(workers)}
    started = dict.fromkeys(running, time.monotonic())
    pauses = dict.fromkeys(running, 0.0)
    due: dict[int, float] = {}  # worker → when to start it again
    while not stopping:
        time.sleep(0.2)
        now = time.monotonic()
        for i, process in list(running.items()):
            code = process.poll()
            if code is None:
                continue
            del running[i]
            steady = now - started[i] >= STEADY_S
            pauses[i] = 0.0 if steady else min(max(pauses[i] * 2, 1.0), MAX_PAUSE_S)
            due[i] = now + pauses[i]
            err().print(f"worker {i} exited with {code}; starting it again in {pauses[i]:.0f} s")
        for i, when in list(due.items()):
            if now >= when and not stopping:
                del due[i]
                running[i], started[i] = _start(data, workers, i), now
    for process in running.values():
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in running.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return 0 if all(p.returncode in (0, -signal.SIGTERM) for p in running.values()) else EXIT_UNAVAILABLE


def _start(data: Path, workers: int, worker: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gsomia.cli", "serve", "--data", str(data),
                             "--workers", str(workers), "--worker", str(worker)], stdin=subprocess.DEVNULL)
