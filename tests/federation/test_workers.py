"""`gsomia serve --workers 2` on PostgreSQL: two worker processes serve one node's API and peer endpoint on
the same ports, each releasing and sending from the shared outbox; every release reaches JPN once, both audit
trails verify. On SQLite the command refuses to start more than one worker, saying why."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from tests.ci import in_ci
from tests.conftest import PG_URL, pg_schemas, require_postgres
from tests.federation.harness import PASSPHRASE, RunningNode, start, wait_for
from tests.federation.test_feed_served import LABEL, subscriber_for, track
from tests.feed.test_nats_broker import NATS_URL, nats_reachable

from gsomia.config import load_settings, write_settings
from gsomia.demo.client import official_client
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.feed.subscriber import Update

pytestmark = pytest.mark.slow
RELEASES = 24


@pytest.fixture
def pg_kor(tmp_path: Path) -> Iterator[tuple[dict[str, LoopbackNode], str]]:
    require_postgres()
    with pg_schemas("workers") as (schema,):
        yield create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR", "JPN"), feed_links=(),
                                databases={"KOR": (PG_URL, schema)}), schema


def _serve(data: Path, *more: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode()}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "gsomia.cli", "serve", "--data", str(data), *more], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def _up(spec: LoopbackNode, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, f"gsomia serve exited with {process.returncode}"
    try:
        with official_client(spec.api_url, spec.root_certificate, "") as client:
            return client.get("/v1/health").status_code == 200
    except httpx.HTTPError:
        return False


def _answers(spec: LoopbackNode) -> bool:
    try:
        with official_client(spec.api_url, spec.root_certificate, spec.tokens["releaser"]) as client:
            return client.get("/v1/items").status_code == 200
    except httpx.HTTPError:
        return False


def stop_supervisor(supervisor: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM to `gsomia serve --workers N`, as systemd stops it; killed if it has not ended within `timeout`."""
    supervisor.send_signal(signal.SIGTERM)
    try:
        supervisor.wait(timeout)
    except subprocess.TimeoutExpired:
        supervisor.kill()
        supervisor.wait()


def _children(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_two_workers_on_postgresql_release_through_both(pg_kor: tuple[dict[str, LoopbackNode], str],
                                                        tmp_path: Path) -> None:
    specs, schema = pg_kor
    kor = specs["KOR"]
    jpn: RunningNode = start(specs["JPN"])
    supervisor = _serve(kor.data, "--workers", "2", log=tmp_path / "kor.log")
    try:
        wait_for(lambda: _up(kor, supervisor), "KOR's workers to serve", timeout=60)
        # Each worker bounded its malloc arenas as it started (cli/allocator.py; tests/cli/test_allocator.py).
        wait_for(lambda: (tmp_path / "kor.log").read_text().count("malloc arenas: at most 2") == 2,
                 "both workers to say so")
        written = []
        for n in range(RELEASES):  # a new connection each time: the kernel spreads them over the workers
            with official_client(kor.api_url, kor.root_certificate, kor.tokens["releaser"]) as client:
                item = client.post("/v1/items", json={
                    "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"], "topics": ["dprk-missile"],
                    "purpose": "missile warning", "content_text": f"worker test {n}"})
                assert item.status_code == 201, item.text
            with official_client(kor.api_url, kor.root_certificate, kor.tokens["releaser"]) as client:
                released = client.post("/v1/releases", json={"releases": [{"item_id": item.json()["id"], "to": "JPN"}]})
                assert released.status_code == 200, released.text
                written.append(released.json()["outcomes"][0]["message_id"])
        engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
        try:
            def settled() -> list[tuple[str, str, str]]:
                with engine.connect() as conn:
                    rows = conn.execute(text("SELECT message_id, state, claimed_by FROM outbox WHERE kind = 'item'"))
                    found = [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
                return found if len(found) == RELEASES and all(r[1] == "delivered" for r in found) else []

            rows = wait_for(settled, "every release delivered")
        finally:
            engine.dispose()
        assert sorted(r[0] for r in rows) == sorted(written)
        # Each was written and sent by the worker that took the request: both workers did (host:pid:random).
        senders = {r[2] for r in rows}
        pids = {int(s.split(":")[1]) for s in senders}
        assert len(pids) == 2 and supervisor.pid not in pids, senders
        with jpn.node.store.unit_of_work(readonly=True) as uow:
            received = {e.message_id for e in uow.exchange.inbox(limit=1000) if e.kind == "item"}
        assert received == set(written)
        # A worker that dies is started again by the supervisor; meanwhile the other serves.
        os.kill(min(pids), signal.SIGKILL)
        # Connections the kernel had queued at the dead worker's socket are reset: a new one reaches the other.
        wait_for(lambda: _answers(kor), "the other worker to answer")
        wait_for(lambda: "worker 0 exited" in (tmp_path / "kor.log").read_text()
                 or "worker 1 exited" in (tmp_path / "kor.log").read_text(), "the supervisor to see it")
        wait_for(lambda: _up(kor, supervisor) and _children(supervisor.pid) - pids, "a new worker", timeout=30)
        assert len(_children(supervisor.pid)) == 2
        with official_client(kor.api_url, kor.root_certificate, kor.tokens["officer"]) as officer:
            for client in (officer, jpn.client("officer")):
                report = client.get("/v1/audit/verify").json()
                assert report["ok"] is True, report
    finally:
        stop_supervisor(supervisor)
        jpn.signal_stop()
        jpn.join()
    assert supervisor.returncode == 0, (tmp_path / "kor.log").read_text()


def test_several_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    kor = create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR",), feed_links=())["KOR"]
    process = _serve(kor.data, "--workers", "2", log=tmp_path / "kor.log")
    assert process.wait(60) == 2
    said = (tmp_path / "kor.log").read_text()
    assert "--workers > 1 needs PostgreSQL" in said and "SQLite" in said


def test_two_workers_sharing_a_feed_broker_both_serve_the_feed_on_one_port(
        pg_kor: tuple[dict[str, LoopbackNode], str], tmp_path: Path) -> None:
    """With `feed_broker`, every worker serves the missile-warning feed on the feed port (SO_REUSEPORT): a sensor's
    posts, each on a connection of its own, and subscribers, each on its own, meet whichever workers the kernel
    gave them; every subscriber gets the whole stream in order."""
    if not nats_reachable():
        if in_ci():
            pytest.fail("NATS is unreachable at 127.0.0.1:4222 and CI is set: the NATS feed must be tested")
        pytest.skip("NATS unreachable at 127.0.0.1:4222 (CI unset)")
    kor = pg_kor[0]["KOR"]
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    write_settings(load_settings(kor.data).model_copy(update={"feed_broker": NATS_URL, "feed_broker_prefix": prefix}))
    supervisor = _serve(kor.data, "--workers", "2", log=tmp_path / "kor.log")
    stream, posts, per_post = "KOR-S1-WORKERS", 4, 5

    async def watch(seen: list[Update]) -> None:
        subscriber = subscriber_for(kor, kor.tokens["analyst"], on_update=seen.append)
        task = asyncio.ensure_future(subscriber.run())
        try:
            await asyncio.wait_for(subscriber.connected.wait(), 20)
            await asyncio.wait_for(ready.wait(), 60)
            for _ in range(1000):  # bounded: twenty seconds
                if len(seen) >= posts * per_post:
                    break
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def scenario() -> list[list[Update]]:
        views: list[list[Update]] = [[] for _ in range(4)]
        watching = asyncio.gather(*(watch(seen) for seen in views))
        await asyncio.sleep(3)  # every subscriber connected (each waits up to 20 s for it)
        for n in range(posts):
            with official_client(kor.api_url, kor.root_certificate, kor.tokens["releaser"]) as client:
                posted = client.post("/v1/feed/tracks", json={
                    "label": LABEL, "messages": track(stream, per_post, start_seq=1 + n * per_post)})
            assert posted.status_code == 200, posted.text
        ready.set()
        await watching
        return views

    try:
        wait_for(lambda: _up(kor, supervisor), "KOR's workers to serve", timeout=60)
        wait_for(lambda: (tmp_path / "kor.log").read_text().count(f"feed {kor.feed_url}") == 2,
                 "both workers to serve the feed")
        ready = asyncio.Event()
        views = asyncio.run(scenario())
        for seen in views:
            assert [u.msg.seq for u in seen] == list(range(1, posts * per_post + 1)), (tmp_path / "kor.log").read_text()
    finally:
        stop_supervisor(supervisor)
    assert supervisor.returncode == 0, (tmp_path / "kor.log").read_text()
