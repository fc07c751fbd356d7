"""The feed inside a running node (`gsomia serve`): its transports wired to the node's keys, partners and
services. Every decision and record is a use case of `gsomia.services` (`feed`, `feed_links`, `feed_audit`);
this module builds the `FeedNode`, its links and gates, and keeps the feed's live state.

    sensor / C2 ──HTTPS POST /v1/feed/tracks──▶ services.feed.publish ──▶ NodeFeed ──▶ FeedNode ──wss──▶ partners
    TAK / CoT ──TCP (TLS)──▶ CotListener ──▶ services.feed.publish ──┘
    `gsomia feed post` ──wss, bearer token (feed.posting)──▶ services.feed.publish ──┘
    partner feeds ──wss, client cert pinned to the partner──▶ FeedNode ──wss, bearer token──▶ subscribers

- Batches are signed by the node's current signing key (the crypto layer's signer: the private key
  never leaves it) as the node's id; partners' batches are checked with the keys in their public
  documents. Pushes and pulls are admitted by the services (`feed_links.admit_partner`,
  `admit_subscriber`); pushes to partners go where peers.toml has a `feed_url`.
- Each hop asks the policy: release (by the official who started the stream), relay (the node, under
  the originator's written consent, T5), receipt and re-marking (R4.4), read (R7.2).
- The standing consents are re-read from the node's consents table every `CONSENT_POLL_S` and before a
  new stream starts, and those partners send on feed links are added; each partner's link gets those it
  needs (`feed_links.FeedConsents`). Every `CONSENT_POLL_S` the register is re-read too, for the officials
  who own streams and the subscribers connected now (`feed.registered`).
- The replay buffer and each stream's next number are written behind the feed in batches, pruned to the
  buffer's bounds (age, per stream, total), to the store the services open (`feed.open_replay_store`);
  who started each stream is a record of the node's store. A restarted node replays what a partner or
  subscriber missed, continues every stream's numbers, and gives each stream back to its official.
- Every per-hop decision, allowed or refused, reaches the audit trail as a per-second aggregate per
  (gate, stream, decision) with its message count and sequence range; a refusal as soon as it is
  decided (`served_audit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.domain.catalog import Catalog
from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Request
from gsomia.domain.tracks import Routed, TrackMessage
from gsomia.feed.broker import Delivery, Subscription
from gsomia.feed.dissemination import Clock, Decider, PeerFilter, ReaderFilter
from gsomia.feed.errors import FeedError
from gsomia.feed.hop_audit import HopLedger
from gsomia.feed.nats_broker import NatsBroker, StreamTaken, node_prefix
from gsomia.feed.nats_lease import LinkLease
from gsomia.feed.node import FeedNode
from gsomia.feed.peer_link import PeerLink
from gsomia.feed.peers import Peer, consents_message, pinned_to
from gsomia.feed.posting import Poster, error_answer
from gsomia.feed.replay import ReplayBuffer
from gsomia.feed.served_audit import HopAuditWriter
from gsomia.feed.wire import encode_message
from gsomia.services import feed_links, feed_posts
from gsomia.services.context import Actor, Node
from gsomia.services.errors import AuthenticationFailed, Conflict, ServiceError, StoreUnavailable
from gsomia.services.exchange_common import node_official
from gsomia.services.feed import Origination, TrackWatch, open_replay_store, publish, registered, stream_origins

log = logging.getLogger(__name__)
CONSENT_POLL_S = 2.0
LEASE_S = 3.0  # with a shared broker: a stopped process's partner links are taken over within this
REPLAY_MAX_AGE_S = 600.0        # a track older than ten minutes is history, not a warning
REPLAY_PER_STREAM = 50_000
REPLAY_TOTAL = 300_000
WATCH_QUEUE = 10_000     # an in-process watcher that falls behind loses its oldest messages first
WATCH_BATCH = 256
WATCH_HISTORY = 2_000    # per stream, the newest held: a track's whole flight at the sensors' rates


class StreamReleaseFilter(PeerFilter):
    """A peer link's gate where each of our streams is released by the official who started it (R6.e):
    a stream from an official without the releasing role stays at home."""

    def __init__(self, decider: Decider, clock: Clock, party: str, peer: str, node: Official,
                 feed: NodeFeed) -> None:
        super().__init__(decider, clock, party, peer, node, node, feed.consents.held)
        self._streams = feed.streams

    def question(self, msg: Routed, at: datetime, consents: tuple[Consent, ...]) -> Request:
        started = self._streams.get(msg.stream)
        if msg.label.originator == self.party and started is not None:
            return Request(Action.RELEASE, at, started.official, msg.label, recipient=self.peer,
                           item_id=msg.stream, purpose=msg.label.purpose)
        # Another party's stream: relay by the node. Our own with no known releaser: asked as the node,
        # which holds no releasing role, so refused (default deny).
        return super().question(msg, at, consents)


class NodeFeed:
    """The running node's feed endpoint (a `services.feed.LiveFeed`); `start()` in the node's loop,
    `close()` at shutdown."""

    def __init__(self, node: Node, *, server_context: ssl.SSLContext | None,
                 client_context: ssl.SSLContext | None) -> None:
        self.node = node
        self._server_context, self._client_context = server_context, client_context
        keys = node.keys.current
        if not isinstance(keys.signer.public_key(), Ed25519PublicKey):
            raise FeedError("the feed signs batches with Ed25519; this node's signing key is not an Ed25519 key")
        self.node_id = keys.node
        self.official = node_official(node)
        self.consents = feed_links.FeedConsents(node)
        self._links: dict[str, PeerLink] = {}  # per partner party
        peers: dict[str, Peer] = {}
        for partner in node.partners.by_party.values():
            key = partner.keys.verify_key
            if isinstance(key, Ed25519PublicKey):
                peers[partner.keys.node] = Peer(partner.keys.node, partner.party, key)
            else:
                log.warning("feed: %s signs with a non-Ed25519 key; its batches cannot be accepted", partner.party)
        # The node's catalogue as it is at each decision: an agreement event applied meanwhile counts at once.
        self.decider: Decider = lambda request: decide(request, node.catalog)
        # The replay buffer and stream positions survive a restart; so do the streams' origins (the node's records).
        self.store = open_replay_store(node)
        buffer = ReplayBuffer(self._clock, max_per_stream=REPLAY_PER_STREAM, max_age_s=REPLAY_MAX_AGE_S,
                              store=self.store, max_total=REPLAY_TOTAL)
        self.ledger = HopLedger(self._clock)
        self.audit = HopAuditWriter(node, self.ledger)
        self.feed = FeedNode(node.party, self.node_id, keys.signer, node.catalog, self.official, peers,
                             clock=self._clock, decider=self.decider, consents=self.consents.held, admission=self,
                             on_consents=self._received, buffer=buffer, ledger=self.ledger)
        self.feed.meter = node.metrics
        self.streams: dict[str, Origination] = stream_origins(node)
        self.port: int | None = None
        self._poll: asyncio.Task[None] | None = None
        self._stop_agreements: Callable[[], None] = lambda: None
        self.shared: NatsBroker | None = None  # with feed_broker: the JetStream broker other feed processes share
        self._turns: dict[str, asyncio.Lock] = {}  # per stream: its posts number it one at a time (`numbering`)
        # Per stream, the number after the broker's newest as a post last read it: where numbering continues. Kept
        # apart from the sequence tracker, which follows what this process has taken: the broker's newest messages
        # may still be on their way here, and they are taken when they come, not skipped as already seen.
        self._broker_next: dict[str, int] = {}
        self.lease: LinkLease | None = None  # with feed_broker: held by the one feed process that links to partners
        self._leading: asyncio.Task[None] | None = None

    def _label(self, canonical: bytes) -> Label:
        return Label.from_canonical(canonical, self.node.catalog.schemes)

    def _clock(self) -> float:
        # The node's clock (a demo node may run from a fictitious date): decisions use the node's time.
        return self.node.clock().timestamp()

    # --- serving ---------------------------------------------------------------------------------

    async def start(self, *, shared_port: bool = False) -> int:
        """Serve the feed (`shared_port`: on the port the node's other worker processes serve it on too)."""
        settings = self.node.settings
        if settings.feed_broker is not None:
            self.shared = await NatsBroker.connect(
                settings.feed_broker, settings.feed_broker_prefix or node_prefix(self.node_id), self._label,
                max_age_s=REPLAY_MAX_AGE_S, memory=False, connect_timeout=settings.feed_broker_timeout_s)
            self.feed.broker = self.shared
            await self.shared.follow(self._arrived)
        await self.refresh_consents()
        self.port = await self.feed.serve(settings.host, settings.feed_port, self._server_context,
                                          shared_port=shared_port)
        if self.shared is None:
            self._link_partners()
        else:  # one feed process of the node pushes to the partners: whichever holds the lease
            self.lease = await self.shared.link_lease(LEASE_S)
            self._leading = asyncio.ensure_future(self._lead_links(self.lease))
        self._poll = asyncio.ensure_future(self._poll_register())
        loop = asyncio.get_running_loop()
        # Installed from whichever thread applied the event; the gates live on this loop.
        def changed(catalog: Catalog) -> None:
            loop.call_soon_threadsafe(self.feed.agreements_changed, catalog)

        self._stop_agreements = self.node.live_catalog.on_change(changed)
        self.audit.start()
        return self.port

    def _link_partners(self) -> None:
        for partner in self.node.partners.by_party.values():
            if partner.feed_url is None:
                continue
            gate = StreamReleaseFilter(self.decider, self.feed.clock, self.node.party, partner.party, self.official,
                                       self)
            self._links[partner.party] = self.feed.link_to_peer(
                partner.feed_url, partner.party, self.official, ssl_context=self._client_context, gate=gate,
                pin=pinned_to(partner.tls_fingerprint), greeting=functools.partial(self._greeting, partner.party))

    async def _lead_links(self, lease: LinkLease) -> None:
        """With a shared broker: the partner links run while this process holds the lease, and stop when it loses
        it; the lease is taken or renewed every third of its life."""
        while True:
            try:
                if await lease.hold():
                    if not self._links:
                        self._link_partners()
                elif self._links:
                    links, self._links = self._links, {}
                    for link in links.values():
                        await self.feed.drop_link(link)
            except Exception:  # whatever it was, the next turn tries again: the links must not go unmanaged
                log.exception("feed: the partner links' lease")
            await asyncio.sleep(lease.ttl_s / 3)

    def _arrived(self, delivery: Delivery) -> bool:
        """A message from the shared broker, before any subscriber here sees it: sequenced and buffered here (its
        label, its number, its replay), whichever feed process of the node took it, so that this process can
        number the stream on and answer replays of it. Numbers this node's sensor skipped are gone, not pending.
        True if it was taken (the broker offers it to this process's subscribers), False for a duplicate."""
        msg = delivery.msg
        seen = self.feed.take(msg, delivery.frame)
        if seen is None:
            return False
        if msg.originator == self.node.party:
            for first, last in seen.gaps:
                self.feed.tracker.give_up(msg.stream, first, last)
        return True

    def _greeting(self, party: str) -> list[str]:
        return [consents_message(self.consents.needed_by(party))]

    async def close(self) -> None:
        self._stop_agreements()
        if self._leading is not None:
            self._leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading
        if self.lease is not None:
            await self.lease.release()  # another feed process takes the links over now, not in LEASE_S
        if self._poll is not None:
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
        await self.feed.close()  # saves what the replay buffer has not yet written
        await self.audit.close()  # writes the last decision aggregates
        self.store.close()

    # --- the Admission the FeedNode asks ---------------------------------------------------------

    def push(self, node_id: str, certificate: bytes | None) -> bool:
        return feed_links.admit_partner(self.node, node_id, certificate)

    async def pull(self, reader_id: str, authorization: str | None) -> Official | None:
        return await asyncio.to_thread(feed_links.admit_subscriber, self.node, authorization)

    async def post(self, authorization: str | None) -> Poster | None:
        if await self.pull("poster", authorization) is None:
            return None

        async def publish_batch(document: Any) -> dict[str, Any]:
            # The token again for every batch, as for every HTTP request: a suspension stops the next one. As
            # the API does, a token checked a moment ago is taken from the cache (services/token_cache.py: a
            # change made in this process empties it at once): a register lookup on a worker thread per batch
            # queued a sensor's batches behind each other (the demo's sensor→KOR p50 of 20-30 ms).
            official = feed_links.recently_admitted(self.node, authorization) or await self.pull("poster",
                                                                                                  authorization)
            if official is None:
                return error_answer(AuthenticationFailed())
            try:
                batch = feed_posts.batch_from_dict(self.node, document)
                actor = Actor(official, feed_links.VIA)
                newest = await publish(self.node, self, actor, batch.label, batch.tracks)
            except ServiceError as stopped:
                return error_answer(stopped)
            return {"accepted": len(batch.tracks), "streams": newest}

        return publish_batch

    # --- consents and the register ---------------------------------------------------------------

    async def _merge(self, records: list[bytes]) -> None:
        """New standing consents are weighed from now on, and passed to the links of the partners that
        need them before any batch that relies on them."""
        new = self.consents.merge(records)
        if not new:
            return
        self.feed.invalidate()
        for party, link in list(self._links.items()):  # the lease may change the links meanwhile
            needed = self.consents.needed_by(party, new)
            if needed:
                await link.send_control(consents_message(needed))

    async def _received(self, party: str, records: list[bytes]) -> None:
        await self._merge(records)

    async def refresh_consents(self) -> None:
        await self._merge(await asyncio.to_thread(self.consents.in_table))

    async def _poll_register(self) -> None:
        while True:
            await asyncio.sleep(CONSENT_POLL_S)
            try:
                await self.refresh_consents()
                await self.refresh_officials()
            except Exception:  # a store hiccup must not end the feed; the next poll retries
                log.exception("feed: cannot read consents or the register")

    async def refresh_officials(self) -> None:
        """Stream owners and connected subscribers as the register holds them now: a suspension, a
        revocation or a changed clearance or need-to-know stops their releases and reads within
        CONSENT_POLL_S, rather than when the cached decisions lapse at the hour (R6.e, R7.2)."""
        readers = list(self.feed.reader_gates)
        known = [o.official for o in self.streams.values()] + [gate.subject for gate in readers]
        if not known:
            return
        now = await asyncio.to_thread(registered, self.node, known)
        owners_changed = False
        for stream, origin in list(self.streams.items()):
            if now[origin.official.id] != origin.official:
                self.streams[stream] = replace(origin, official=now[origin.official.id])
                owners_changed = True
        if owners_changed:
            self.feed.invalidate()
        for gate in readers:
            if now[gate.subject.id] != gate.subject:
                gate.subject = now[gate.subject.id]
                gate.invalidate()

    # --- what the feed's use cases ask of it (services.feed.LiveFeed) ----------------------------

    def next_seq(self, stream: str) -> int:
        known = self.feed.tracker.next_seq(stream)
        if self.shared is None:
            return known
        return max(known, self._broker_next.get(stream, 1), self.shared.staged_next(stream))

    @contextlib.asynccontextmanager
    async def numbering(self, streams: Sequence[str]) -> AsyncIterator[None]:
        """One post numbering `streams`. With a shared broker, another feed process of this node may have fed them
        since (it stopped, the sensor came here): their numbers continue from the broker's newest, never repeat
        one; and what the post originated is stored there, whole, before the sensor is told it was taken, so the
        process it posts to next numbers on from it. Two processes numbering one stream at the same moment (one
        sensor's posts spread over both) is a conflict: the second is refused, nothing of it kept, and the
        sensor posts again. Within this process, posts on one stream take their turns."""
        if self.shared is None:
            yield
            return
        shared, wanted = self.shared, sorted(set(streams))
        async with contextlib.AsyncExitStack() as turns:
            for stream in wanted:  # always in the same order: two posts never wait for each other's
                await turns.enter_async_context(self._turns.setdefault(stream, asyncio.Lock()))
            try:
                try:
                    for stream in wanted:
                        self._broker_next[stream] = await shared.last_seq(stream) + 1
                except FeedError as unread:
                    raise StoreUnavailable(str(unread)) from None
                yield
                try:
                    await shared.store_staged(wanted)
                except StreamTaken as taken:
                    raise Conflict(f"{taken}: post again") from None
                except FeedError as unstored:
                    raise StoreUnavailable(str(unstored)) from None
            finally:
                shared.drop_staged(wanted)  # what a refused or failed post staged is gone with it

    async def originate(self, msg: TrackMessage) -> None:
        """Into the feed. With a shared broker, staged for the post's `numbering` to store: this process takes it
        (tracker, replay buffer, subscribers) as every feed process does, when the broker hands it back."""
        if self.shared is None:
            await self.feed.originate(msg)
            return
        if msg.seq < self.next_seq(msg.stream):
            return  # a number the stream has already: a duplicate, dropped as the feed drops one
        await self.shared.stage(Delivery(msg, encode_message(msg)))
        if self.feed.meter is not None:
            self.feed.meter.feed_taken("local", 1, 0)

    def watch(self, official: Official) -> contextlib.AbstractAsyncContextManager[TrackWatch]:
        return self._watch(official)

    @contextlib.asynccontextmanager
    async def _watch(self, official: Official) -> AsyncIterator[TrackWatch]:
        """An in-process subscriber (the console's map) behind the same reader gate as a subscriber on the
        feed port: counted into the audit trail, re-read with the register, unsubscribed when it closes."""
        gate = ReaderFilter(self.decider, self.feed.clock, official)
        gate.audit_to(self.ledger)
        self.feed.reader_gates.add(gate)
        subscription = await self.feed.broker.subscribe(f"watch-{official.id}-{id(gate):x}", gate, WATCH_QUEUE)
        try:
            yield _Watch(self.feed, gate, subscription)
        finally:
            self.feed.reader_gates.discard(gate)
            await self.feed.broker.unsubscribe(subscription)
            self.ledger.forget(gate)

    def stream_messages(self, stream: str) -> list[TrackMessage]:
        """Every message of `stream` the replay buffer holds, in order (services.feed.HeldTracks)."""
        newest = self.feed.newest(stream)
        if not newest:
            return []
        found, _ = self.feed.buffer.replay(stream, 1, newest)
        return [self.feed.message(stored) for stored in found]

    def newest_messages(self) -> list[TrackMessage]:
        out = []
        for stream in self.feed.streams():
            newest = self.feed.newest(stream)
            found, _ = self.feed.buffer.replay(stream, newest, newest)
            if found:
                out.append(self.feed.message(found[0]))
        return out


class _Watch:
    """`services.feed.TrackWatch` over a broker subscription: the replay buffer's history through the gate
    first, then what the subscription receives, each stream's numbers only forward (no message twice)."""

    def __init__(self, feed: FeedNode, gate: ReaderFilter, subscription: Subscription) -> None:
        self._feed, self._gate, self._subscription = feed, gate, subscription
        self._seen: dict[str, int] | None = None

    async def next(self) -> list[TrackMessage]:
        if self._seen is None:
            self._seen = {}
            history = self._history()
            if history:
                return history
        while True:
            deliveries = await self._subscription.next_batch(WATCH_BATCH)
            fresh = [d for d in deliveries if d.msg.seq > self._seen.get(d.msg.stream, 0)]
            for delivery in fresh:
                self._seen[delivery.msg.stream] = delivery.msg.seq
            if fresh:
                return [self._feed.decoded(d.frame) for d in fresh]

    def _history(self) -> list[TrackMessage]:
        assert self._seen is not None
        out = []
        for stream in self._feed.streams():
            newest = self._feed.newest(stream)
            held, _ = self._feed.buffer.replay(stream, max(1, newest - WATCH_HISTORY + 1), newest)
            for stored in held:
                if self._gate.allows(self._feed.header(stored)):
                    out.append(self._feed.message(stored))
                    self._seen[stream] = max(self._seen.get(stream, 0), stored.seq)
        return out
