"""A Cursor-on-Target TCP (optionally TLS) endpoint on a node, for TAK clients and CoT sensors.

In: each `<event>…</event>` read from a connection becomes a message this node originates, through the
same use case as the HTTP ingest (`gsomia.services.feed.publish`): the first message of a stream is an
originate decision, audited allowed or refused; the stream then belongs to the listener's official and
keeps its label. A refused event is dropped and counted (`refused`). Plain TAK input takes the
listener's configured label and sensor (`CotDefaults`); input that carries our own detail must name
this node's party as originator — another party's track enters only through a signed peer link, never
by a TAK client claiming it.

Out: every connected client receives, as CoT, what the listener's official may read (the same
`ReaderFilter` a WebSocket subscriber gets). Who that official is, in and out, comes from configuration
now and from the client's TLS certificate once the API layer maps certificates to officials.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from gsomia.domain.officials import Official
from gsomia.domain.tracks import TrackMessage
from gsomia.feed.cot import MAX_EVENT_BYTES, CotDefaults, CotWriter, parse_cot
from gsomia.feed.dissemination import ReaderFilter
from gsomia.feed.errors import CotError
from gsomia.feed.served import NodeFeed
from gsomia.services import feed as feed_use_cases
from gsomia.services.context import Actor
from gsomia.services.errors import ServiceError

log = logging.getLogger(__name__)
_END = b"</event>"


VIA = "cot"


class CotListener:
    def __init__(self, served: NodeFeed, official: Official, label_defaults: CotDefaults | None = None) -> None:
        self.served, self.feed = served, served.feed
        self.official = official
        self.actor = Actor(official, VIA)
        self.defaults = label_defaults
        self.clients = 0
        self.accepted = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> int:
        self._server = await asyncio.start_server(self._handle, host, port, ssl=ssl_context,
                                                  limit=MAX_EVENT_BYTES + len(_END))
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients += 1
        out = asyncio.ensure_future(self._send(writer))
        self._tasks.add(out)
        try:
            await self._receive(reader)
        finally:
            out.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await out
            self._tasks.discard(out)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self.clients -= 1

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        schemes = self.feed.catalog.schemes
        while True:
            try:
                data = await reader.readuntil(_END)
            except asyncio.IncompleteReadError:
                return  # the client closed
            except asyncio.LimitOverrunError:
                log.warning("CoT event over %d bytes: connection closed", MAX_EVENT_BYTES)
                return
            start = data.find(b"<event")
            if start < 0:
                self.refused += 1
                continue
            try:
                msg = parse_cot(data[start:], schemes, self.defaults)
            except CotError as bad:
                self.refused += 1
                log.info("CoT refused: %s", bad)
                continue
            if msg.label.originator != self.feed.party or msg.originator != self.feed.party:
                self.refused += 1  # foreign tracks come only over signed peer links
                continue
            if await self._originate(msg):
                self.accepted += 1
            else:
                self.refused += 1

    async def _originate(self, msg: TrackMessage) -> bool:
        """Decided and audited as every way in is (`services.feed.publish`); False if refused."""
        track = feed_use_cases.SensorTrack(msg.stream, msg.seq, msg.sensor, msg.time, msg.stale, msg.body)
        try:
            await feed_use_cases.publish(self.served.node, self.served, self.actor, msg.label, [track])
        except ServiceError as refusal:  # refused, or no decision could be recorded: not originated
            log.info("CoT refused: %s", refusal)
            return False
        return True

    async def _send(self, writer: asyncio.StreamWriter) -> None:
        gate = ReaderFilter(self.feed.decider, self.feed.clock, self.official)
        ledger = self.feed.ledger
        if ledger is not None:
            gate.audit_to(ledger)
        self.feed.reader_gates.add(gate)  # re-read from the register with the node's other readers
        sub = await self.feed.broker.subscribe(f"cot:{id(writer)}", gate)
        cot = CotWriter()
        try:
            while True:
                for delivery in await sub.next_batch(256):
                    writer.write(cot.write(self.feed.decoded(delivery.frame)))
                await writer.drain()
        finally:
            self.feed.reader_gates.discard(gate)
            await self.feed.broker.unsubscribe(sub)
            if ledger is not None:
                ledger.forget(gate)

    def next_seq(self, stream: str) -> int:
        """Numbers for plain TAK input, continuing the node's own count (so a restart does not reuse them)."""
        return self.served.next_seq(stream)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
