"""A release's database cost on each backend, same run: statements per release and the sustained rate of a
SQLite pair of nodes beside a PostgreSQL pair, and the ratio of the two rates.

    python -m benchmarks.bench_store [--quick]

Two real nodes (KOR → JPN) serve in threads of this process on loopback, driven over HTTPS as an official
would; a release counts from the official's request to the receipt recorded at KOR. Every statement either
node sends to its database is counted (SQLAlchemy's before_cursor_execute, an executemany counting once),
including the sender's, the receiver's and the receipt's, and of those the ones that waited for their answer:
on PostgreSQL each is a network round trip, while a write whose answer is not read leaves without waiting in a
writer batch's pipeline (storage/engine.py). Transaction BEGIN and COMMIT are not statements here. Both pairs share
this process and its interpreter lock, so the rates are below those of `bench_federation`'s node processes;
the ratio compares like with like, and the CPU time per release is steadier than the rates on a busy machine
(the PostgreSQL server's own CPU is not in it). PostgreSQL: GSOMIA_BENCH_PG_URL (default the machine's server at
127.0.0.1:5432, database test), a schema per node, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, event, func, select

from benchmarks.bench_federation import postgres_schemas
from gsomia.demo.client import official_client
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.node import NodeServer
from gsomia.services.runtime import Node, open_node
from gsomia.storage import open_engine
from gsomia.storage.engine import waits
from gsomia.storage.tables import outbox

PASSPHRASE = b"bench_store passphrase"
CONCURRENCY = 8


class _Counter:
    def __init__(self) -> None:
        self.statements = self.waited = 0

    def __call__(self, conn: Connection, _cursor: Any, _statement: str, _parameters: Any, context: Any,
                 _executemany: bool) -> None:
        self.statements += 1
        self.waited += waits(conn, context.execution_options)


def _serve(spec: LoopbackNode) -> tuple[Node, NodeServer, asyncio.AbstractEventLoop, threading.Thread]:
    node = open_node(spec.data, passphrase=PASSPHRASE)
    ready, holder = threading.Event(), {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"], holder["server"] = loop, NodeServer(node, passphrase=PASSPHRASE)

        async def main() -> None:
            task = asyncio.create_task(holder["server"].run())
            await holder["server"].started()
            ready.set()
            await task

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=run, name=f"bench-{spec.party}", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError(f"{spec.party} did not start")
    return node, holder["server"], holder["loop"], thread


def run_pair(databases: dict[str, tuple[str, str]], count: int) -> dict[str, float]:
    """Releases KOR → JPN at CONCURRENCY in flight until every receipt is recorded: rate and statements."""
    with tempfile.TemporaryDirectory(prefix="gsomia-bench-store-") as folder:
        specs = create_federation(Path(folder), passphrase=PASSPHRASE, parties=("KOR", "JPN"), databases=databases)
        running = {party: _serve(spec) for party, spec in specs.items()}
        kor = specs["KOR"]
        counter = _Counter()
        try:
            clients = [official_client(kor.api_url, kor.root_certificate, kor.tokens["releaser"])
                       for _ in range(CONCURRENCY)]
            items = [clients[0].post("/v1/items", json={
                "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"], "topics": ["dprk-missile"],
                "purpose": "missile warning", "content_text": "x" * 1024}).json()["id"] for _ in range(count + 5)]
            store = running["KOR"][0].store
            url, schema = databases.get("KOR", (store.engine.url.render_as_string(hide_password=False), None))
            reader = open_engine(url, schema=schema)  # its polling is not the nodes' cost: not counted
            warm = [clients[0].post(f"/v1/items/{i}/release", json={"to": "JPN"}) for i in items[:5]]
            assert all(r.status_code < 300 for r in warm), [r.text for r in warm]
            _wait_delivered(reader, 5)
            for node, *_ in running.values():
                event.listen(node.store.engine, "before_cursor_execute", counter)

            def release(n: int) -> httpx.Response:
                return clients[n % CONCURRENCY].post(f"/v1/items/{items[5 + n]}/release", json={"to": "JPN"})

            started, cpu = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                answers = list(pool.map(release, range(count)))
            assert all(a.status_code < 300 for a in answers), [a.text for a in answers if a.status_code >= 300]
            _wait_delivered(reader, 5 + count)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            for c in clients:
                c.close()
            reader.dispose()
        finally:
            for node, *_ in running.values():
                with contextlib.suppress(Exception):
                    event.remove(node.store.engine, "before_cursor_execute", counter)
            for _node, server, loop, _thread in running.values():
                loop.call_soon_threadsafe(server.stop.set)
            for node, _server, _loop, thread in running.values():
                thread.join(15)
                node.close()
    return {"rate": count / elapsed, "statements": counter.statements / count, "waited": counter.waited / count,
            "cpu_ms": cpu * 1000 / count}


def _wait_delivered(engine: Any, expected: int, timeout: float = 120.0) -> None:
    query = select(func.count()).select_from(outbox).where(outbox.c.state == "delivered")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one() >= expected:
                return
        time.sleep(0.005)
    raise TimeoutError(f"fewer than {expected} receipts within {timeout} s")


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    count = 200 if args.quick else 1000
    sqlite = run_pair({}, count)
    with postgres_schemas(True) as databases:
        postgres = run_pair(databases, count)
    ratio = postgres["rate"] / sqlite["rate"]
    print(f"store: {count} releases KOR → JPN, {CONCURRENCY} in flight, both nodes in this process")
    for name, row in (("SQLite", sqlite), ("PostgreSQL", postgres)):
        print(f"  {name:10s} {row['rate']:7.0f} releases/s   {row['statements']:5.1f} statements per release"
              f" ({row['waited']:.1f} waited for; both nodes)   CPU {row['cpu_ms']:.2f} ms per release"
              " (this process: both nodes and the officials)")
    print(f"  ratio: PostgreSQL {ratio:.0%} of SQLite's rate, same run (target >= 60%)")
    return {"sqlite_rate": sqlite["rate"], "postgres_rate": postgres["rate"], "ratio": ratio,
            "sqlite_statements": sqlite["statements"], "postgres_statements": postgres["statements"],
            "sqlite_waited": sqlite["waited"], "postgres_waited": postgres["waited"],
            "sqlite_cpu_ms": sqlite["cpu_ms"], "postgres_cpu_ms": postgres["cpu_ms"]}


if __name__ == "__main__":
    main()
