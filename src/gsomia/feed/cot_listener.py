"""The node's Cursor-on-Target / TAK endpoint: streaming TCP over TLS 1.3, for TAK clients and CoT sensors.

Who: each connection speaks for one official of the register (a sensor is an official with the posting
role), known by the TLS client certificate the security officer enrolled for them: the handshake admits
only enrolled certificates, then `admit` (services.cot_clients.admit) maps the certificate to the official
as the register holds them now, or refuses (audited). Tests and tools may instead give the listener one
configured official (`official=`), over plain TCP on loopback.

In: CoT XML events and TAK Protocol Version 1 stream frames (0xBF, varint length, protobuf; feed/tak.py),
mixed as the client likes, each bounded before it is parsed and parsed by one parser (`cot.parse_cot`).
Each becomes a message this node originates through the same use case as the HTTP ingest
(`services.feed.publish`): the first message of a stream is an originate decision, audited allowed or
refused; the stream then belongs to the connection's official and keeps its label. A refused event is
dropped and counted (`refused`). Plain TAK input takes the node's configured label for it (`plain_label`,
none: refused); input that carries our own detail must name this node's party as originator (another
party's track enters only through a signed peer link, never by a TAK client claiming it). A connection
whose official is suspended, revoked or out of clearance meanwhile (the feed re-reads the register) is closed.

Out: every connected client receives, as CoT, what its official may read (the same `ReaderFilter` a
WebSocket subscriber gets, audited the same way): XML, or TAK protobuf frames once it asked for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, OfficialStatus
from gsomia.domain.tracks import TrackMessage, instant
from gsomia.feed import tak
from gsomia.feed.cot import MAX_EVENT_BYTES, CotDefaults, CotWriter, asks_protocol, control_type, parse_cot
from gsomia.feed.dissemination import ReaderFilter
from gsomia.feed.errors import CotError
from gsomia.feed.served import NodeFeed
from gsomia.services import feed as feed_use_cases
from gsomia.services.context import Actor
from gsomia.services.errors import ServiceError

log = logging.getLogger(__name__)
_END = b"</event>"
VIA = "cot"
OUT_BATCH = 256

Admit = Callable[[bytes | None], Awaitable[Official | None]]


@dataclass
class _Client:
    """One connection: whose it is, its reader gate (re-read with the register), what it speaks."""

    gate: ReaderFilter
    writer: asyncio.StreamWriter
    defaults: CotDefaults | None
    protobuf: bool = False

    @property
    def official(self) -> Official:
        return self.gate.subject

    def still_admitted(self, now_seconds: float) -> bool:
        official = self.official
        return official.status is OfficialStatus.ACTIVE and official.clearance_valid_at(instant(now_seconds))


class CotListener:
    def __init__(self, served: NodeFeed, official: Official | None = None,
                 label_defaults: CotDefaults | None = None, *, admit: Admit | None = None,
                 plain_label: Label | None = None) -> None:
        self.served, self.feed = served, served.feed
        self.official = official
        self.defaults = label_defaults
        self.plain_label = plain_label
        self._admit = admit
        self.clients = 0
        self.accepted = 0
        self.refused = 0
        self.turned_away = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> int:
        self._server = await asyncio.start_server(self._handle, host, port, ssl=ssl_context,
                                                  limit=MAX_EVENT_BYTES + len(_END))
        return int(self._server.sockets[0].getsockname()[1])

    async def _who(self, writer: asyncio.StreamWriter) -> Official | None:
        if self._admit is None:
            return self.official
        tls = writer.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        return await self._admit(der)

    def _defaults_for(self, official: Official) -> CotDefaults | None:
        if self.defaults is not None:
            return self.defaults
        if self.plain_label is None:
            return None
        return CotDefaults(self.plain_label, self.feed.party, f"tak-{official.id}", self.next_seq)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        official = await self._who(writer)
        if official is None:
            self.turned_away += 1
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            return
        gate = ReaderFilter(self.feed.decider, self.feed.clock, official)
        client = _Client(gate, writer, self._defaults_for(official))
        self.clients += 1
        out = asyncio.ensure_future(self._send(client))
        self._tasks.add(out)
        try:
            await self._receive(reader, client)
        finally:
            out.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await out
            self._tasks.discard(out)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            self.clients -= 1

    async def _next_event(self, reader: asyncio.StreamReader) -> bytes | None:
        """The next event as CoT XML, whichever framing it came in; None: the connection is over."""
        try:
            first = await reader.readexactly(1)
            if first[0] == tak.STREAM_MAGIC:
                return tak.event_xml(tak.message_from_payload(await tak.read_stream_payload(reader)))
            data = first + await reader.readuntil(_END)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return None  # the client closed, or its connection broke
        except asyncio.LimitOverrunError:
            log.warning("CoT event over %d bytes: connection closed", MAX_EVENT_BYTES)
            return None
        start = data.find(b"<event")
        return data[start:] if start >= 0 else b""

    async def _receive(self, reader: asyncio.StreamReader, client: _Client) -> None:
        schemes = self.feed.catalog.schemes
        while True:
            try:
                data = await self._next_event(reader)
            except CotError as bad:  # a TAK frame that cannot be read: framing lost, the connection ends
                self.refused += 1
                log.info("TAK frame refused, connection closed: %s", bad)
                return
            if data is None:
                return
            if not client.still_admitted(self.feed.clock()):
                log.info("CoT connection of %s closed: no longer admitted", client.official.id)
                return
            control = control_type(data) if data else None
            if control is not None:
                self._control(client, control, data)
                continue
            try:
                msg = parse_cot(data, schemes, client.defaults)
            except CotError as bad:
                self.refused += 1
                log.info("CoT refused: %s", bad)
                continue
            if msg.label.originator != self.feed.party or msg.originator != self.feed.party:
                self.refused += 1  # foreign tracks come only over signed peer links
                continue
            if await self._originate(client, msg):
                self.accepted += 1
            else:
                self.refused += 1

    def _control(self, client: _Client, kind: str, data: bytes) -> None:
        """TAK protocol negotiation: a request for version 1 is granted; the rest of TAK's control is ignored."""
        if kind == tak.TYPE_PROTOCOL_REQUEST and not client.protobuf and asks_protocol(data):
            client.writer.write(tak.protocol_response(f"gsomia-{self.feed.party}", self.feed.clock()))
            client.protobuf = True

    async def _originate(self, client: _Client, msg: TrackMessage) -> bool:
        """Decided and audited as every way in is (`services.feed.publish`); False if refused."""
        track = feed_use_cases.SensorTrack(msg.stream, msg.seq, msg.sensor, msg.time, msg.stale, msg.body)
        actor = Actor(client.official, VIA)
        try:
            await feed_use_cases.publish(self.served.node, self.served, actor, msg.label, [track])
        except ServiceError as refusal:  # refused, or no decision could be recorded: not originated
            log.info("CoT refused: %s", refusal)
            return False
        return True

    async def _send(self, client: _Client) -> None:
        gate, writer = client.gate, client.writer
        ledger = self.feed.ledger
        if ledger is not None:
            gate.audit_to(ledger)
        self.feed.reader_gates.add(gate)  # re-read from the register with the node's other readers
        sub = await self.feed.broker.subscribe(f"cot:{id(writer)}", gate)
        cot = CotWriter()
        try:
            while True:
                batch = await sub.next_batch(OUT_BATCH)
                if writer.is_closing():
                    return  # the client is gone: its reader ends the connection
                events = (cot.write(self.feed.decoded(delivery.frame)) for delivery in batch)
                # One write per batch: fewer TLS records, and a lost connection noticed between batches.
                writer.write(b"".join(tak.stream_frame(e) for e in events) if client.protobuf else b"".join(events))
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
