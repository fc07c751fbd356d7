"""A subscriber's end of the feed: pulls from a node, verifies, orders, repairs gaps, marks staleness.

The node sends only what the subscriber's official may read (ReaderFilter on the node's side); this
end trusts nothing it cannot check: every batch is verified against the node's key, every stream's
numbers are tracked, holes are asked for again and, if the node cannot fill them, counted lost.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gsomia.domain.tracks import TrackMessage
from gsomia.feed.errors import FeedError
from gsomia.feed.link import Receiver, hello, new_nonce, parse_control, replay_request
from gsomia.feed.sequence import SequenceTracker, Verdict
from gsomia.feed.wire import LabelParser

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Update:
    msg: TrackMessage
    late: bool      # filled a hole after later messages had been delivered
    stale: bool     # past its own stale time when it arrived: show it as history, not as current


class FeedSubscriber:
    def __init__(self, url: str, reader_id: str, node_id: str, node_key: Ed25519PublicKey,
                 parse_label: LabelParser, *, clock: Callable[[], float] = time.time,
                 ssl_context: ssl.SSLContext | None = None, on_update: Callable[[Update], None] | None = None,
                 maxsize: int = 100_000, headers: Mapping[str, str] | None = None) -> None:
        self.url, self.reader_id, self.node_id = url, reader_id, node_id
        self._key, self._parse_label = node_key, parse_label
        self._ssl = ssl_context
        self._headers = dict(headers or {})  # a running node's feed: {"Authorization": "Bearer <token>"}
        self.tracker = SequenceTracker(clock)
        self.updates: asyncio.Queue[Update] = asyncio.Queue(maxsize)
        self._on_update = on_update
        self.connected = asyncio.Event()
        self.connections = 0
        self.rejected_batches = 0
        self._ws: ClientConnection | None = None

    async def run(self, retry_s: float = 0.05, max_retry_s: float = 2.0) -> None:
        delay = retry_s
        while True:
            try:
                async with connect(self.url, ssl=self._ssl, compression=None, max_size=16 * 1024 * 1024,
                                   open_timeout=5, additional_headers=self._headers) as ws:
                    self._ws = ws
                    receiver = Receiver({self.node_id: self._key}, self.node_id, self._parse_label, new_nonce())
                    await ws.send(hello("pull", self.reader_id, self.tracker.positions(), receiver.nonce))
                    parse_control(await ws.recv())
                    self.connections += 1
                    self.connected.set()
                    delay = retry_s
                    await self._receive(ws, receiver)
            except (OSError, ConnectionClosed, FeedError, TimeoutError) as broken:
                log.info("subscriber %s: %s; reconnecting", self.reader_id, broken)
            finally:
                self.connected.clear()
                self._ws = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_retry_s)

    async def _receive(self, ws: ClientConnection, receiver: Receiver) -> None:
        async for data in ws:
            if not isinstance(data, bytes):
                control = parse_control(data)
                stream, first, last = control.get("gone"), control.get("first"), control.get("last")
                if isinstance(stream, str) and isinstance(first, int) and isinstance(last, int):
                    self.tracker.give_up(stream, first, last)
                continue
            try:
                received = receiver.open(data)
            except FeedError as bad:
                self.rejected_batches += 1
                log.warning("subscriber %s: batch refused: %s", self.reader_id, bad)
                continue
            for item in received:
                msg = item.msg
                seen = self.tracker.observe(msg.stream, msg.seq, msg.stale)
                for first, last in seen.gaps:
                    await ws.send(replay_request(msg.stream, first, last))
                if seen.deliver:
                    update = Update(msg, seen.verdict is Verdict.LATE, seen.stale)
                    if self._on_update is not None:
                        self._on_update(update)
                    if self.updates.full():
                        self.updates.get_nowait()  # the caller is not reading: keep the newest
                    self.updates.put_nowait(update)

    async def drop_connection(self) -> None:
        ws = self._ws
        if ws is not None:
            ws.transport.abort()
