"""A push link from a feed node to one downstream node (a partner's feed), reconnecting and resuming as needed.

It takes the node's deliveries through a broker subscription filtered by its gate, and sends them as signed
batches (`link.Sender`), replaying from the node's buffer what the downstream node says it lacks.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gsomia.feed.broker import AllowAll, Gate
from gsomia.feed.errors import FeedError
from gsomia.feed.link import Sender, hello, parse_control, parse_nonce, parse_positions, run_both
from gsomia.feed.peers import CertificatePin, peer_certificate

if TYPE_CHECKING:
    from gsomia.feed.node import FeedNode

log = logging.getLogger(__name__)


class PeerLink:
    """Pushes this node's deliveries to one downstream node, reconnecting and resuming as needed."""

    def __init__(self, node: FeedNode, url: str, gate: Gate | None = None,
                 ssl_context: ssl.SSLContext | None = None, retry_s: float = 0.05, max_retry_s: float = 2.0, *,
                 pin: CertificatePin | None = None, greeting: Callable[[], list[str]] | None = None) -> None:
        self.node, self.url, self.gate = node, url, gate or AllowAll()
        self._ssl = ssl_context
        self._pin = pin  # checked before anything is sent: the feed is not sealed beyond TLS
        self._greeting = greeting  # control messages sent after the hello, before any batch
        self._retry, self._max_retry = retry_s, max_retry_s
        self.connected = asyncio.Event()
        self.connections = 0
        self.sender: Sender | None = None
        self.task: asyncio.Task[None] | None = None  # running `run`, once the node started it
        self._ws: object | None = None

    async def run(self) -> None:
        sub = await self.node.broker.subscribe(f"link:{self.url}", self.gate)
        self.sender = sender = Sender(sub, self.node.signer, self.node, min_interval_s=self.node.batch_interval_s,
                                      meter=self.node.meter)
        delay = self._retry
        try:
            while True:
                try:
                    async with connect(self.url, ssl=self._ssl, compression=None, max_size=16 * 1024 * 1024,
                                       open_timeout=5) as ws:
                        if self._pin is not None and not self._pin(peer_certificate(ws)):
                            raise FeedError(f"{self.url} did not present the partner's pinned TLS certificate")
                        self._ws = ws
                        await ws.send(hello("push", self.node.node_id, {}))
                        answer = parse_control(await ws.recv())
                        positions, nonce = parse_positions(answer), parse_nonce(answer)
                        for message in self._greeting() if self._greeting is not None else []:
                            await ws.send(message)
                        self.connections += 1
                        self.connected.set()
                        delay = self._retry
                        await sender.resume(ws, positions, nonce)
                        await run_both(sender.pump(ws), sender.answer(ws))
                except (OSError, ConnectionClosed, FeedError, TimeoutError) as broken:
                    log.info("%s → %s: %s; reconnecting", self.node.node_id, self.url, broken)
                finally:
                    self.connected.clear()
                    self._ws = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry)
        finally:
            await self.node.broker.unsubscribe(sub)

    async def send_control(self, message: str) -> bool:
        """A control message on the live connection, if there is one (the greeting repeats it on reconnect)."""
        ws = self._ws
        if ws is None or not self.connected.is_set():
            return False
        try:
            await ws.send(message)  # type: ignore[attr-defined]
        except ConnectionClosed:
            return False
        return True

    async def drop_connection(self) -> None:
        """Force a disconnect (tests: the link must reconnect and leave no gap)."""
        ws = self._ws
        if ws is not None:
            transport = getattr(ws, "transport", None)
            if transport is not None:
                transport.abort()
