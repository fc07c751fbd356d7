"""A partner's real peer endpoint (JPN's peer app, its TLS, its store) that counts every message each POST
carries, by id, before the node handles it: what two senders, or a sender and its successor, actually sent.

`hold()` makes it keep the batches that arrive (the sender waits for its answer, as with a slow partner) and
then drop them unhandled with a 503 once `drop_held()` is called: a batch whose sender died before it was
answered, which the partner never took."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import cbor2
import uvicorn

from gsomia.federation.peer_app import create_peer_app
from gsomia.federation.tls import Listener
from gsomia.node import NodeTLS
from gsomia.services.context import Node
from gsomia.services.peer_messages import open_message

Scope = dict[str, Any]


class CountingReceiver:
    def __init__(self, node: Node, port: int, passphrase: bytes) -> None:
        self.node = node
        self.taken: Counter[str] = Counter()  # message id → times handed to the node
        self.kinds: dict[str, str] = {}
        self.held = 0  # batches kept and not handled
        self._holding = False
        self._drop = threading.Event()
        self._app = create_peer_app(node)
        config = Listener("127.0.0.1", port, NodeTLS.of(node, passphrase).peer).uvicorn_config(self)
        self._server = uvicorn.Server(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="counting-receiver", daemon=True)

    def start(self) -> CountingReceiver:
        self._thread.start()
        for _ in range(400):  # bounded: 20 s
            if self._server.started:
                return self
            self._drop.wait(0.05)
        raise RuntimeError("the counting receiver did not start")

    def stop(self) -> None:
        self._drop.set()
        self._server.should_exit = True
        self._thread.join(15)

    def hold(self) -> None:
        self._holding = True

    def drop_held(self) -> None:
        self._holding = False
        self._drop.set()

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def of_kind(self, kind: str) -> Counter[str]:
        return Counter({m: n for m, n in self.taken.items() if self.kinds[m] == kind})

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/peer/v1/batch":
            await self._app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self._holding:
            self.held += 1
            while not self._drop.is_set():
                await asyncio.sleep(0.02)
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"dropped by the test"})
            return
        for signed in cbor2.loads(body):
            envelope = open_message(signed, trusted=self.node.partners.directory).envelope
            self.taken[envelope.id] += 1
            self.kinds[envelope.id] = envelope.kind
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, replay, send)
