"""Real nodes on loopback ports, each serving in a thread of its own, driven over HTTPS like an official would."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from gsomia.demo.client import official_client
from gsomia.demo.client import wait_for as wait_for  # re-exported for the tests
from gsomia.demo.loopback import LoopbackNode
from gsomia.node import NodeServer
from gsomia.services.partners import load_partners
from gsomia.services.runtime import Node, open_node

PASSPHRASE = b"loopback federation test passphrase"


@dataclass
class RunningNode:
    spec: LoopbackNode
    node: Node
    server: NodeServer
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, who: str) -> httpx.Client:
        if who not in self.clients:
            self.clients[who] = official_client(self.spec.api_url, self.spec.root_certificate, self.spec.tokens[who])
        return self.clients[who]

    def signal_stop(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        self.loop.call_soon_threadsafe(self.server.stop.set)

    def join(self) -> None:
        self.thread.join(timeout=15)
        self.node.close()


def stop_all(nodes: dict[str, RunningNode]) -> None:
    """All at once: each sender closes its connections while the others' servers are still draining."""
    for node in nodes.values():
        node.signal_stop()
    for node in nodes.values():
        node.join()


def start(spec: LoopbackNode) -> RunningNode:
    node = open_node(spec.data, passphrase=PASSPHRASE)
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        server = NodeServer(node, passphrase=PASSPHRASE)
        holder["server"] = server

        async def main() -> None:
            task = asyncio.create_task(server.run())
            started = asyncio.create_task(server.started())
            await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
            if not started.done():  # it stopped before serving: its error, for the test's report
                started.cancel()
                await task
            ready.set()
            await task

        # As `gsomia serve` runs its loop: on leaving, what is left of its tasks is cancelled and run to its end, so
        # that a connection closed at the very end has its socket closed (a loop closed a turn too early left
        # it to the collector, whose ResourceWarning failed whichever test it came in).
        with asyncio.Runner() as runner:
            holder["loop"] = runner.get_loop()
            try:
                runner.run(main())
            except BaseException as failed:
                holder["error"] = failed
                ready.set()
                raise

    thread = threading.Thread(target=run, name=f"node-{spec.party}", daemon=True)
    thread.start()
    if not ready.wait(20) or "error" in holder:
        raise RuntimeError(f"{spec.party} node did not start: {holder.get('error', 'not within 20 s')!r}")
    return RunningNode(spec, node, holder["server"], thread, holder["loop"])


def originate(node: RunningNode, text: str, *, who: str = "releaser", classification: str | None = None,
              topics: tuple[str, ...] = ("dprk-missile",)) -> str:
    default = {"KOR": "KOR:II", "JPN": "JPN:GOKUHI", "USA": "USA:S"}[node.spec.party]
    response = node.client(who).post("/v1/items", json={
        "classification": classification or default, "releasable_to": ["USA", "JPN", "KOR"],
        "topics": list(topics), "purpose": "missile warning", "content_text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def items_of(node: RunningNode, who: str = "officer") -> list[dict[str, Any]]:
    response = node.client(who).get("/v1/items")
    assert response.status_code == 200, response.text
    return list(response.json() if isinstance(response.json(), list) else response.json()["items"])


def outbox(node: RunningNode, who: str = "officer") -> list[dict[str, Any]]:
    response = node.client(who).get("/v1/outbox")
    assert response.status_code == 200, response.text
    return list(response.json())


def delivered(node: RunningNode, message_id: str) -> dict[str, Any] | None:
    for message in outbox(node):
        if message["message_id"] == message_id and message["state"] != "pending":
            return message
    return None


def forged_release(sender: RunningNode, item_id: str, to: str) -> bytes:
    """What a release message would carry, signed by the sender's node but never decided by its policy:
    to prove that the receiving side decides for itself."""
    from gsomia.crypto import seal
    from gsomia.services.messages import ItemMessage, encode
    from gsomia.services.peer_messages import sign_message

    with sender.node.store.unit_of_work(readonly=True) as uow:
        item = uow.items.get(item_id)
    assert item is not None
    plaintext = sender.node.sealer.open(item.label_bytes, item.sealed_content)
    partners = load_partners(sender.spec.data)
    now = sender.node.clock()
    envelope = seal(plaintext, label=item.label_bytes, sender=sender.node.keys, recipients=[partners.by_party[to].keys],
                    at=now)
    # It names the agreement between the two and the sender's version of it, as a release would (G5).
    agreement = sender.node.catalog.between(sender.spec.party, to)[0].id
    payload = encode(ItemMessage(item_id, sender.spec.party, envelope, to, None, (), (sender.spec.party,),
                                 agreement=agreement, version=sender.node.catalog.version(agreement).digest))
    return sign_message(sender.node.keys, f"msg-forged-{item_id}", "item", to, payload, now)
