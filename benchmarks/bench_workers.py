"""Worker scaling on PostgreSQL: the sustained release rate KOR → JPN with both nodes served by one worker
process, then by two (`gsomia serve --workers 2`), same run, same machine.

    python -m benchmarks.bench_workers [--quick]

Each configuration gets a fresh pair of nodes (a schema each in GSOMIA_BENCH_PG_URL, default the machine's
server, database test), CONCURRENCY officials' connections releasing one item per request (the kernel spreads
the connections over the workers), timed until every receipt is recorded in KOR's outbox. The CPU the nodes'
processes used (workers included) is read from /proc, per release. On a machine with C cores, N workers can at
best scale the rate by min(N, C), and the database server shares the same cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_federation import PASSPHRASE, _cpu_seconds, _outbox_reader, _release_rate, _up, postgres_schemas
from gsomia.demo.client import official_client, wait_for
from gsomia.demo.loopback import create_federation

WARM_UP = 20


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args, _ = parser.parse_known_args(argv)
    count = 300 if args.quick else 1000
    figures = {}
    for workers in (1, 2):
        rate, cpu_ms = _run(workers, count)
        figures[f"rate_{workers}"], figures[f"cpu_ms_{workers}"] = rate, cpu_ms
    cores = os.cpu_count() or 1
    scaling = figures["rate_2"] / figures["rate_1"]
    print(f"workers (PostgreSQL): releases KOR → JPN of 1 KiB items, {count} per run, "
          f"8 requests in flight, both nodes served by N workers; {cores} cores here")
    for workers in (1, 2):
        print(f"  {workers} worker{'s' if workers > 1 else ' '}  {figures[f'rate_{workers}']:8.0f}/s   "
              f"CPU per release (all node processes) {figures[f'cpu_ms_{workers}']:.2f} ms")
    print(f"  scaling: 2 workers give {scaling:.2f}x the rate of 1 (at best {min(2, cores)}x on {cores} cores, "
          f"which PostgreSQL and the load generator share): {scaling / min(2, cores):.0%} of linear per core")
    figures["scaling"] = scaling
    return figures


def _run(workers: int, count: int) -> tuple[float, float]:
    env = {**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE}
    with tempfile.TemporaryDirectory(prefix="gsomia-bench-workers-") as folder, postgres_schemas(True) as databases:
        nodes = create_federation(Path(folder), passphrase=PASSPHRASE.encode(), parties=("KOR", "JPN"),
                                  databases=databases, feed_links=())
        kor, jpn = nodes["KOR"], nodes["JPN"]
        more = ["--workers", str(workers)] if workers > 1 else []
        # The nodes log as `gsomia serve` does (an access line per request) into a file beside them, as
        # bench_federation's do: the benchmark pays for the log, its output stays readable.
        logs = Path(folder) / "nodes.log"
        with logs.open("wb") as log:
            processes = [subprocess.Popen([sys.executable, "-m", "gsomia.cli", "serve", "--data", str(n.data),
                                           *more], env=env, stdout=subprocess.DEVNULL, stderr=log)
                         for n in (kor, jpn)]
        try:
            client = official_client(kor.api_url, kor.root_certificate, kor.tokens["releaser"])
            wait_for(lambda: _up(client), "KOR", 60)
            with official_client(jpn.api_url, jpn.root_certificate, "") as probe:
                wait_for(lambda: _up(probe), "JPN", 60)
            items = [client.post("/v1/items", json={
                "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"], "topics": ["dprk-missile"],
                "purpose": "missile warning", "content_text": "x" * 1024}).json()["id"] for _ in range(WARM_UP + count)]
            client.close()
            database = _outbox_reader(databases["KOR"], kor.data)
            _release_rate(kor.api_url, kor.root_certificate, kor.tokens["releaser"], database, items[:WARM_UP])
            before = sum(_tree_cpu(p.pid) for p in processes)
            rate = _release_rate(kor.api_url, kor.root_certificate, kor.tokens["releaser"], database, items[WARM_UP:])
            cpu_ms = (sum(_tree_cpu(p.pid) for p in processes) - before) * 1000 / count
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
    return rate, cpu_ms


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the workers of `gsomia serve --workers`)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return _cpu_seconds(pid) + sum(_tree_cpu(int(child)) for child in children)


if __name__ == "__main__":
    main()
