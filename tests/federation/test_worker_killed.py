"""A worker killed mid-batch strands nothing: its claims run out and another worker's sender delivers them,
each message once.

A real `gsomia serve` process for KOR (outbox lease 11 s) releases items to JPN; JPN's peer endpoint keeps
the batch without answering (a slow partner), and KOR is SIGKILLed while waiting for the answer. The dropped
batch was never handled at JPN. The messages stay claimed by the dead worker, and no other sender takes them,
until the lease has run out; then a second sender over the same store delivers them, each exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.federation.counting import CountingReceiver
from tests.federation.harness import PASSPHRASE, wait_for
from tests.federation.test_shared_outbox import federation, pending

from gsomia.demo.client import official_client
from gsomia.federation.sender import Sender
from gsomia.node import NodeTLS
from gsomia.services import delivery
from gsomia.services.runtime import open_node
from gsomia.storage.exchange import PENDING

__all__ = ["federation"]  # the fixture, on SQLite and PostgreSQL
pytestmark = pytest.mark.slow
ITEMS = 12
LEASE_S = 11  # more than a POST's timeout (10 s), as the sender requires


def _up(api_url: str, root: Path, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, f"gsomia serve exited with {process.returncode}"
    try:
        with official_client(api_url, root, "") as client:
            return client.get("/v1/health").status_code == 200
    except httpx.HTTPError:
        return False


def test_a_worker_killed_mid_batch_leaves_its_messages_to_another_after_the_lease(
        federation: dict[str, Any], tmp_path: Path) -> None:
    kor, jpn = federation["KOR"], federation["JPN"]
    receiving = open_node(jpn.data, passphrase=PASSPHRASE)
    receiver = CountingReceiver(receiving, jpn.peer_port, PASSPHRASE).start()
    receiver.hold()
    env = {**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode(), "GSOMIA_OUTBOX_LEASE_S": str(LEASE_S)}
    with (tmp_path / "kor.log").open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "gsomia.cli", "serve", "--data", str(kor.data)], env=env,
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    survivor = open_node(kor.data, passphrase=PASSPHRASE)
    try:
        wait_for(lambda: _up(kor.api_url, kor.root_certificate, worker), "KOR to serve", timeout=30)
        with official_client(kor.api_url, kor.root_certificate, kor.tokens["releaser"]) as client:
            items = []
            for n in range(ITEMS):
                answer = client.post("/v1/items", json={
                    "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"], "topics": ["dprk-missile"],
                    "purpose": "missile warning", "content_text": f"track {n}"})
                assert answer.status_code == 201, answer.text
                items.append(answer.json()["id"])
            released = client.post("/v1/releases", json={"releases": [{"item_id": i, "to": "JPN"} for i in items]})
            assert released.status_code == 200, released.text
            written = sorted(o["message_id"] for o in released.json()["outcomes"])
        wait_for(lambda: receiver.held >= 1, "KOR's batch to reach JPN")
        worker.send_signal(signal.SIGKILL)  # mid-batch: the POST unanswered, nothing recorded
        worker.wait(10)
        receiver.drop_held()

        with survivor.store.unit_of_work(readonly=True) as uow:
            stranded = [m for m in uow.exchange.outbox(state=PENDING) if m.message_id in written]
        assert len(stranded) == ITEMS
        assert all(m.claimed_by is not None and m.lease_until is not None for m in stranded)
        dead = {str(m.claimed_by) for m in stranded}
        assert len(dead) == 1
        # While the lease runs, another sender is offered none of them.
        now = survivor.clock()
        if all(m.lease_until is not None and m.lease_until > now for m in stranded):
            due = delivery.due_messages(survivor, 100, claimant="another-worker")
            assert not {m.message_id for m in due} & set(written)
        assert not receiver.of_kind("item")  # JPN took nothing from the dead worker

        sender = Sender(survivor, NodeTLS.of(survivor, PASSPHRASE).client, poll_seconds=0.1)

        async def deliver() -> None:
            stop = asyncio.Event()
            running = asyncio.ensure_future(sender.run(stop))
            for _ in range(600):  # bounded: 60 s (the lease is 11 s)
                if await asyncio.to_thread(pending, survivor) == 0:
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.wait_for(running, 30)

        asyncio.run(deliver())
        assert pending(survivor) == 0
        taken = receiver.of_kind("item")
        assert sorted(taken) == written and set(taken.values()) == {1}
        with survivor.store.unit_of_work(readonly=True) as uow:
            settled = [uow.exchange.outbox_message(m) for m in written]
        leases = {m.message_id: m.lease_until for m in stranded}  # the dead worker's
        assert all(m is not None and m.state == "delivered" and m.delivered_at is not None
                   and m.delivered_at >= leases[m.message_id] for m in settled)  # type: ignore[operator]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        receiver.stop()
        survivor.close()
        receiving.close()
