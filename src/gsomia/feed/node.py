"""A feed node: takes signed batches in, applies the policy per hop, sends signed batches on.

    upstream (sensor or peer) ──push──▶ [ verify → headers → receive/re-mark → sequence → buffer ]
                                                         │ broker (one publish per batch)
                         ┌───────────────────────────────┼────────────────────────────┐
                   PeerLink (push, PeerFilter)     subscriber (pull, ReaderFilter)   in-process subscribers

A relay decodes only each frame's header (stream, number, stale time, label): the frames go on as they
came, but for the label digest that re-marking swaps, and are signed again as one batch per hop. Every
gate counts what it decided for the node's `HopLedger` (the audit trail), if it has one; a buffer with a
store is written behind from a worker thread every `persist_interval_s` and at close.

One node is one party's feed endpoint (KOR, USA hub, JPN). Trust is explicit: batches are accepted
only from node ids whose public key the node was given, and each hop re-signs what it forwards.
A running node (`gsomia.feed.served`) adds an `Admission` (`peers`): a push must come with the partner's pinned
TLS client certificate, a pull or an official's post (`posting`) with an official's personal token.

Partners' written consents (T5) travel as their signed records in a control message on push links,
`{"consents": [hex, …]}`, before any batch that needs them; `on_consents` checks and keeps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cbor2
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from gsomia.crypto import BatchSigningKey
from gsomia.domain.catalog import Catalog
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official
from gsomia.domain.tracks import Header, Routed, TrackMessage
from gsomia.feed.batch_signing import BatchSigner
from gsomia.feed.broker import Broker, Delivery, Gate, LocalBroker
from gsomia.feed.dissemination import (
    Consents,
    Decider,
    PeerFilter,
    ReaderFilter,
    Receipt,
    StreamFilter,
    policy_decider,
)
from gsomia.feed.errors import FeedError
from gsomia.feed.hop_audit import HopLedger
from gsomia.feed.link import (
    Channel,
    Receiver,
    Sender,
    hello,
    new_nonce,
    parse_control,
    parse_nonce,
    parse_positions,
    replay_request,
    run_both,
)
from gsomia.feed.peer_link import PeerLink
from gsomia.feed.peers import Admission, CertificatePin, Peer, consent_records, peer_certificate
from gsomia.feed.posting import serve_posts
from gsomia.feed.replay import ReplayBuffer
from gsomia.feed.sequence import Observation, SequenceTracker
from gsomia.feed.wire import WireDecoder, encode_label, encode_message
from gsomia.services.metrics import NodeMetrics
from gsomia.services.records import Stored, Unsaved

log = logging.getLogger(__name__)
Observer = Callable[[str, Routed], None]
# (party of the pushing peer, signed consent records it sent): the node checks and keeps them.
ConsentSink = Callable[[str, list[bytes]], Awaitable[None]]


def _no_consents() -> tuple[()]:
    return ()


class FeedNode:
    def __init__(self, party: str, node_id: str, key: BatchSigningKey, catalog: Catalog, official: Official,
                 peers: Mapping[str, Peer] = {}, *, clock: Callable[[], float] = time.time,
                 broker: Broker | None = None, buffer: ReplayBuffer | None = None,
                 decider: Decider | None = None, consents: Consents = _no_consents,
                 readers: Mapping[str, Official] = {}, batch_interval_s: float = 0.002,
                 admission: Admission | None = None, on_consents: ConsentSink | None = None,
                 ledger: HopLedger | None = None) -> None:
        self.party, self.node_id = party, node_id
        self.catalog, self.official = catalog, official
        self.peers = dict(peers)
        self.readers = dict(readers)  # subscriber id → the official it reads as (auth comes from the API layer)
        self.reader_gates: set[ReaderFilter] = set()  # the gates of the subscribers connected now
        self.clock = clock
        self.broker: Broker = broker if broker is not None else LocalBroker()
        self.buffer = buffer if buffer is not None else ReplayBuffer(clock)
        self.decider = decider if decider is not None else policy_decider(catalog)
        self.consents = consents
        self.ledger = ledger  # where the gates report their decisions for the audit trail, if anywhere
        self.tracker = SequenceTracker(clock)
        # A restart over a persisted buffer resumes each stream's numbers, never repeats them.
        for stream in self.buffer.streams():
            self.tracker.restore(stream, self.buffer.newest(stream) + 1)
        if self.buffer.store is not None:
            for stream, next_seq in self.buffer.store.positions().items():
                self.tracker.restore(stream, next_seq)
        self.persist_interval_s = 0.5  # a crash loses at most this much of the history, never its order
        self._writer: ThreadPoolExecutor | None = None
        self.signer = BatchSigner(key, node_id)
        self._codec = WireDecoder(self._parse_label)
        for label_frame in self.buffer.labels.values():
            self._codec.decode(label_frame)
        self._receipts: dict[str, Receipt] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: Server | None = None
        self.batch_interval_s = batch_interval_s
        self.observer: Observer | None = None
        self.meter: NodeMetrics | None = None  # a running node's metrics (services/metrics.py), if any
        self.admission = admission
        self.on_consents = on_consents
        self.links: list[PeerLink] = []
        self.refused = 0
        self.rejected_batches = 0

    def _parse_label(self, data: bytes) -> Label:
        return Label.from_canonical(data, self.catalog.schemes)

    # --- history (what Senders replay from) ------------------------------------------------------

    def label_frame(self, digest: bytes) -> bytes:
        return self.buffer.labels[digest]

    def streams(self) -> list[str]:
        return self.buffer.streams()

    def newest(self, stream: str) -> int:
        return self.buffer.newest(stream)

    def replay(self, stream: str, first: int, last: int | None) -> tuple[list[Stored], list[tuple[int, int]]]:
        found, _ = self.buffer.replay(stream, first, last)
        top = last if last is not None else self.buffer.newest(stream)
        have = {s.seq for s in found}
        pending = {s for a, b in self.tracker.missing(stream) for s in range(a, b + 1)}
        gone: list[tuple[int, int]] = []
        for seq in range(first, top + 1):
            # Neither held nor awaited here (an awaited one will be forwarded when it comes): gone.
            if seq not in have and seq not in pending:
                if gone and gone[-1][1] == seq - 1:
                    gone[-1] = (gone[-1][0], seq)
                else:
                    gone.append((seq, seq))
        return found, gone

    def message(self, stored: Stored) -> TrackMessage:
        return self.decoded(stored.frame)

    def header(self, stored: Stored) -> Header:
        head = self._codec.header(stored.frame)
        if head is None:
            raise FeedError("a label frame is stored among messages")
        return head

    def decoded(self, frame: bytes) -> TrackMessage:
        """A held message frame decoded whole (for what shows content: CoT, the streams list)."""
        msg = self._codec.decode(frame)
        if msg is None:
            raise FeedError("a label frame is stored among messages")
        return msg

    # --- taking messages in ----------------------------------------------------------------------

    async def originate(self, msg: TrackMessage) -> None:
        """A message from this node's own sensor, in process (the pipeline's sensor uses the socket)."""
        frame = encode_message(msg)
        seen = self.take(msg, frame)
        if seen is not None:
            for first, last in seen.gaps:
                # Originated here with numbers skipped: nobody holds them, so they are gone, not pending.
                self.tracker.give_up(msg.stream, first, last)
            if self.meter is not None:
                self.meter.feed_taken("local", 1, len(seen.gaps))
            await self.broker.publish(Delivery(msg, frame))

    def take(self, msg: Routed, frame: bytes) -> Observation | None:
        """Sequence, buffer and observe one message: None for a duplicate (dropped), else what was seen."""
        seen = self.tracker.observe(msg.stream, msg.seq, msg.stale)
        if not seen.deliver:
            return None
        if msg.digest not in self.buffer.labels:
            label_frame = encode_label(msg.label)
            self.buffer.add_label(msg.digest, label_frame)
            self._codec.decode(label_frame)
        self.buffer.append_one(msg.stream, msg.seq, msg.digest, frame)
        if self.observer is not None:
            self.observer(self.node_id, msg)
        return seen

    def invalidate(self) -> None:
        """Forget cached decisions (consents changed): receipts and peer links ask the policy again."""
        for receipt in self._receipts.values():
            receipt.invalidate()
        for link in self.links:
            if isinstance(link.gate, StreamFilter):
                link.gate.invalidate()

    def agreements_changed(self, catalog: Catalog) -> None:
        """An agreement event was applied: receipts re-mark under `catalog`, and every gate (peers', arrivals',
        subscribers') forgets what it decided, so the next message of each stream is decided afresh."""
        self.catalog = catalog
        for receipt in self._receipts.values():
            receipt.catalog = catalog
        for gate in self.reader_gates:
            gate.invalidate()
        self.invalidate()

    def _receipt(self, provider: str) -> Receipt:
        receipt = self._receipts.get(provider)
        if receipt is None:
            receipt = self._receipts[provider] = Receipt(self.decider, self.clock, self.catalog, self.party,
                                                         provider, self.official, self.consents)
            if self.ledger is not None:
                receipt.audit_to(self.ledger)
        return receipt

    async def _ingest(self, channel: Channel, receiver: Receiver, provider: str, data: bytes) -> None:
        """One batch from a peer: verified, each message decided (receive) and re-marked, sequenced,
        buffered, then published as one batch. Only the headers are decoded: the frames go on as they
        came but for the label digest, which re-marking swaps."""
        arrived = time.perf_counter()
        try:
            received = receiver.open_headers(data)
        except FeedError as bad:
            self.rejected_batches += 1
            log.warning("%s: batch from %s refused: %s", self.node_id, receiver.signer, bad)
            return
        held_under = self._receipt(provider).held
        accepted: list[Delivery] = []
        holes: list[tuple[str, int, int]] = []
        for head, frame in received:
            held = held_under(head)
            if held is None:
                self.refused += 1
                continue
            label, digest = held
            if digest != head.digest:
                frame = re_marked(frame, head.digest, digest)
                head = Header(head.stream, head.seq, head.originator, head.stale, label, digest)
            seen = self.take(head, frame)
            if seen is None:
                continue
            for first, last in seen.gaps:
                holes.append((head.stream, first, last))
            accepted.append(Delivery(head, frame))
        for stream, first, last in holes:
            await channel.send(replay_request(stream, first, last))
        if accepted:
            await self.broker.publish_many(accepted)
        if self.meter is not None:
            self.meter.feed_taken(provider, len(accepted), len(holes))
            self.meter.feed_hop("ingest", time.perf_counter() - arrived)

    # --- the server side -------------------------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None, *,
                    shared_port: bool = False) -> int:
        """Listen for pushes, pulls and posts; `shared_port`: with SO_REUSEPORT, beside the node's other worker
        processes on the same port (the kernel spreads the connections over them)."""
        self._server = await serve(self._handle, host, port, ssl=ssl_context, compression=None,
                                   max_size=16 * 1024 * 1024, reuse_port=shared_port)
        if self.buffer.store is not None and self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"feed-replay-{self.node_id}")
            self._spawn(self._write_behind())
        sock = next(iter(self._server.sockets))
        return int(sock.getsockname()[1])

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            greeting = parse_control(await ws.recv())
            node, role = str(greeting.get("node", "")), greeting.get("role")
            if role == "push":
                await self._handle_push(ws, node)
            elif role == "pull":
                await self._handle_pull(ws, node, parse_positions(greeting), parse_nonce(greeting))
            elif role == "post":
                await self._handle_post(ws)
        except (FeedError, ConnectionClosed) as ended:
            log.info("%s: connection ended: %s", self.node_id, ended)

    async def _handle_push(self, ws: ServerConnection, node: str) -> None:
        peer = self.peers.get(node)
        if peer is None or (self.admission is not None and not self.admission.push(node, peer_certificate(ws))):
            await ws.close(4403, "unknown node")
            return
        receiver = Receiver({node: peer.key}, node, self._parse_label, new_nonce())
        await ws.send(hello("push", self.node_id, self.tracker.positions(), receiver.nonce))
        async for data in ws:
            if isinstance(data, bytes):
                await self._ingest(ws, receiver, peer.party, data)
            else:
                control = parse_control(data)
                stream, first, last = control.get("gone"), control.get("first"), control.get("last")
                if isinstance(stream, str) and isinstance(first, int) and isinstance(last, int):
                    self.tracker.give_up(stream, first, last)
                records = control.get("consents")
                if isinstance(records, list) and self.on_consents is not None:
                    await self.on_consents(peer.party, consent_records(records))

    async def _handle_pull(self, ws: ServerConnection, reader_id: str, positions: dict[str, int],
                           nonce: bytes) -> None:
        reader = self.readers.get(reader_id)
        if reader is None and self.admission is not None:
            reader = await self.admission.pull(reader_id, _authorization(ws))
        if reader is None:
            await ws.close(4403, "unknown subscriber")
            return
        gate = ReaderFilter(self.decider, self.clock, reader)
        if self.ledger is not None:
            gate.audit_to(self.ledger)
        self.reader_gates.add(gate)
        sub = await self.broker.subscribe(reader_id, gate)
        sender = Sender(sub, self.signer, self, min_interval_s=self.batch_interval_s)
        await ws.send(hello("pull", self.node_id, {}))
        try:
            await sender.resume(ws, positions, nonce)
            await run_both(sender.pump(ws), sender.answer(ws))
        finally:
            self.reader_gates.discard(gate)
            await self.broker.unsubscribe(sub)
            if self.ledger is not None:
                self.ledger.forget(gate)

    async def _handle_post(self, ws: ServerConnection) -> None:
        poster = await self.admission.post(_authorization(ws)) if self.admission is not None else None
        if poster is None:
            await ws.close(4403, "unknown official")
            return
        await serve_posts(ws, self.node_id, poster)

    # --- the client side: pushing to a downstream node -------------------------------------------

    def link_to(self, url: str, gate: Gate, ssl_context: ssl.SSLContext | None = None, *,
                pin: CertificatePin | None = None, greeting: Callable[[], list[str]] | None = None) -> PeerLink:
        if self.ledger is not None and isinstance(gate, StreamFilter):
            gate.audit_to(self.ledger)
        link = PeerLink(self, url, gate, ssl_context, pin=pin, greeting=greeting)
        self.links.append(link)
        link.task = self._spawn(link.run())
        return link

    async def drop_link(self, link: PeerLink) -> None:
        """Stop pushing to a peer: its connection closed, its subscription gone (it may be linked again later)."""
        if link in self.links:
            self.links.remove(link)
        if link.task is not None:
            link.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await link.task

    def link_to_peer(self, url: str, peer_party: str, releaser: Official, relayer: Official | None = None,
                     ssl_context: ssl.SSLContext | None = None, *, gate: PeerFilter | None = None,
                     pin: CertificatePin | None = None, greeting: Callable[[], list[str]] | None = None) -> PeerLink:
        """A push link to a partner node, filtered by release (own items) or relay (others')."""
        if gate is None:
            gate = PeerFilter(self.decider, self.clock, self.party, peer_party, releaser,
                              relayer or self.official, self.consents)
        return self.link_to(url, gate, ssl_context, pin=pin, greeting=greeting)

    # --- the persisted buffer, written behind -----------------------------------------------------

    def _unsaved(self) -> Unsaved:
        unsaved = self.buffer.take_unsaved()
        unsaved.positions = {stream: self.tracker.next_seq(stream) for stream in unsaved.floors}
        return unsaved

    async def _write_behind(self) -> None:
        """Every `persist_interval_s`, what the buffer took in goes to its store from a worker thread."""
        store, loop = self.buffer.store, asyncio.get_running_loop()
        while store is not None:
            await asyncio.sleep(self.persist_interval_s)
            unsaved = self._unsaved()
            if unsaved:
                try:
                    await loop.run_in_executor(self._writer, store.write, unsaved)
                except Exception:  # a full disk must not end the feed; memory still serves replays
                    log.exception("%s: cannot persist feed frames of %d streams", self.node_id, len(unsaved.frames))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self.broker.close()
        if self._writer is not None:
            self._writer.shutdown(wait=True)  # a write in progress finishes first
            self._writer = None
        if self.buffer.store is not None:
            unsaved = self._unsaved()
            if unsaved:
                self.buffer.store.write(unsaved)


def _authorization(ws: ServerConnection) -> str | None:
    return ws.request.headers.get("Authorization") if ws.request is not None else None


def re_marked(frame: bytes, old: bytes, new: bytes) -> bytes:
    """A message frame with its label digest swapped (re-marking on receipt), without a re-encode.

    The digest is a 16-byte CBOR byte string (header 0x50). Should those 17 bytes also occur elsewhere
    in the frame (a crafted stream name), the frame is rebuilt instead, so the right ones change.
    """
    marker = b"\x50" + old
    if frame.count(marker) == 1:
        return frame.replace(marker, b"\x50" + new, 1)
    items = cbor2.loads(frame)
    items[8] = new
    return cbor2.dumps(items)
