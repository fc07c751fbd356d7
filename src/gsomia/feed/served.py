"""The feed inside a running node (`gsomia serve`): one `FeedNode` per node, wired to its keys, partners,
consents and officials.

    sensor / C2 ──HTTPS POST /v1/feed/tracks──▶ NodeFeed.publish ──▶ FeedNode ──wss (client cert)──▶ partner feeds
    partner feeds ──wss, client cert pinned to the partner──▶ FeedNode ──wss, bearer token──▶ subscribers

- Batches are signed by the node's current signing key (the crypto layer's signer: the private key
  never leaves it) as the node's id; partners' batches are checked with the keys in their public
  documents, and a push is accepted only over TLS with that partner's pinned client certificate.
- A subscriber reads as the official whose personal token it presents (`Authorization: Bearer`),
  through the same ReaderFilter as before; pushes to partners go where peers.toml has a `feed_url`.
- Each hop asks the policy: release (by the official who started the stream), relay (the node, under
  the originator's written consent, T5), receipt and re-marking (R4.4), read (R7.2).
- Consents are the standing (topic) consents among the signed records of the node's consents table,
  plus those partners sent on feed links; every record is verified against the signer's published key
  and must be signed by the party that consents. They are re-read from the table every
  `CONSENT_POLL_S` and before a new stream starts, and a partner's link gets only those it needs: the
  ones naming it, and those it must relay on as a hub.
- The replay buffer, each stream's next number and who started it live in DATA/feed-replay.db, written
  behind the feed in batches and pruned to the buffer's bounds (age, per stream, total): a restarted
  node replays what a partner or subscriber missed and continues every stream's numbers.
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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.crypto import InvalidRecord, KeyDirectory, fingerprint, verify_record
from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, OfficialStatus
from gsomia.domain.requests import Action, Request
from gsomia.domain.tracks import (
    Body,
    EndOfTrack,
    ImpactPrediction,
    LaunchEvent,
    Position,
    Routed,
    TrackMessage,
    TrackUpdate,
    Uncertainty,
    Velocity,
)
from gsomia.feed.dissemination import Clock, Decider, PeerFilter, ReaderFilter, policy_decider
from gsomia.feed.errors import FeedError
from gsomia.feed.hop_audit import HopLedger
from gsomia.feed.node import CertificatePin, FeedNode, Peer, PeerLink, consents_message
from gsomia.feed.replay import ReplayBuffer, SqliteReplayStore
from gsomia.feed.served_audit import HopAuditWriter
from gsomia.services import officials
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import AuthenticationFailed, Conflict, InvalidInput, PermissionDenied
from gsomia.services.exchange_common import consents_from_records, granted_consents, node_official

log = logging.getLogger(__name__)
CONSENT_POLL_S = 2.0
VIA = "feed"
REPLAY_FILE = "feed-replay.db"  # in the node's data directory, beside (not inside) its main store
REPLAY_MAX_AGE_S = 600.0        # a track older than ten minutes is history, not a warning
REPLAY_PER_STREAM = 50_000
REPLAY_TOTAL = 300_000


class PointInput(Protocol):
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def alt_m(self) -> float: ...


class VelocityInput(Protocol):
    @property
    def east(self) -> float: ...
    @property
    def north(self) -> float: ...
    @property
    def up(self) -> float: ...


class ErrorInput(Protocol):
    @property
    def ce_m(self) -> float: ...
    @property
    def le_m(self) -> float: ...


class TrackInput(Protocol):
    """One track message as a sensor or C2 system sends it (the API's schema satisfies this)."""

    @property
    def stream(self) -> str: ...
    @property
    def seq(self) -> int | None: ...
    @property
    def kind(self) -> str: ...  # launch, update, impact, end
    @property
    def sensor(self) -> str: ...
    @property
    def time(self) -> float: ...
    @property
    def stale(self) -> float: ...
    @property
    def point(self) -> PointInput | None: ...
    @property
    def position(self) -> PointInput | None: ...
    @property
    def velocity(self) -> VelocityInput | None: ...
    @property
    def error(self) -> ErrorInput: ...
    @property
    def impact_time(self) -> float | None: ...
    @property
    def reason(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class StreamInfo:
    stream: str
    originator: str
    newest_seq: int
    classification: str
    provider: str | None
    last_kind: str
    last_time: float


@dataclass(frozen=True, slots=True)
class Origination:
    """Who started a stream here, and the label it keeps for its life."""

    official: Official
    label: Label


class StreamReleaseFilter(PeerFilter):
    """A peer link's gate where each of our streams is released by the official who started it (R6.e):
    a stream from an official without the releasing role stays at home."""

    def __init__(self, decider: Decider, clock: Clock, party: str, peer: str, node: Official,
                 consents: NodeFeed) -> None:
        super().__init__(decider, clock, party, peer, node, node, consents.consents)
        self._streams = consents.streams

    def question(self, msg: Routed, at: datetime, consents: tuple[Consent, ...]) -> Request:
        started = self._streams.get(msg.stream)
        if msg.label.originator == self.party and started is not None:
            return Request(Action.RELEASE, at, started.official, msg.label, recipient=self.peer,
                           item_id=msg.stream, purpose=msg.label.purpose)
        # Another party's stream: relay by the node. Our own with no known releaser: asked as the node,
        # which holds no releasing role, so refused (default deny).
        return super().question(msg, at, consents)


class NodeFeed:
    """The running node's feed endpoint; `start()` in the node's loop, `close()` at shutdown."""

    def __init__(self, node: Node, *, server_context: ssl.SSLContext | None,
                 client_context: ssl.SSLContext | None) -> None:
        self.node, self.partners = node, node.partners
        partners = node.partners
        self._server_context, self._client_context = server_context, client_context
        keys = node.keys.current
        if not isinstance(keys.signer.public_key(), Ed25519PublicKey):
            raise FeedError("the feed signs batches with Ed25519; this node's signing key is not an Ed25519 key")
        self.node_id = keys.node
        self.official = node_official(node)
        self.streams: dict[str, Origination] = {}
        self._trusted = KeyDirectory([*partners.directory, *(k.public for k in node.keys)])
        self._consents: dict[bytes, Consent] = {}
        self._links: dict[str, PeerLink] = {}  # per partner party
        peers: dict[str, Peer] = {}
        for partner in partners.by_party.values():
            key = partner.keys.verify_key
            if isinstance(key, Ed25519PublicKey):
                peers[partner.keys.node] = Peer(partner.keys.node, partner.party, key)
            else:
                log.warning("feed: %s signs with a non-Ed25519 key; its batches cannot be accepted", partner.party)
        self.decider: Decider = policy_decider(node.catalog)
        # The replay buffer, stream positions and owners survive a restart in the data directory.
        self.store = SqliteReplayStore(node.settings.data_dir / REPLAY_FILE)
        buffer = ReplayBuffer(self._clock, max_per_stream=REPLAY_PER_STREAM, max_age_s=REPLAY_MAX_AGE_S,
                              store=self.store, max_total=REPLAY_TOTAL)
        self.ledger = HopLedger(self._clock)
        self.audit = HopAuditWriter(node, self.ledger)
        self.feed = FeedNode(node.party, self.node_id, keys.signer, node.catalog, self.official, peers,
                             clock=self._clock, decider=self.decider, consents=self.consents, admission=self,
                             on_consents=self._received, buffer=buffer, ledger=self.ledger)
        self._restore_origins()
        self.port: int | None = None
        self._poll: asyncio.Task[None] | None = None

    def _clock(self) -> float:
        # The node's clock (a demo node may run from a fictitious date): decisions use the node's time.
        return self.node.clock().timestamp()

    def consents(self) -> tuple[Consent, ...]:
        return tuple(self._consents.values())

    # --- serving ---------------------------------------------------------------------------------

    async def start(self) -> int:
        settings = self.node.settings
        await self.refresh_consents()
        self.port = await self.feed.serve(settings.host, settings.feed_port, self._server_context)
        for partner in self.partners.by_party.values():
            if partner.feed_url is None:
                continue
            gate = StreamReleaseFilter(self.decider, self.feed.clock, self.node.party, partner.party, self.official,
                                       self)
            self._links[partner.party] = self.feed.link_to_peer(
                partner.feed_url, partner.party, self.official, ssl_context=self._client_context, gate=gate,
                pin=pinned_to(partner.tls_fingerprint), greeting=functools.partial(self._greeting, partner.party))
        self._poll = asyncio.ensure_future(self._poll_consents())
        self.audit.start()
        return self.port

    def _greeting(self, party: str) -> list[str]:
        return [consents_message([r for r, consent in self._consents.items() if self._needs(party, consent)])]

    def _needs(self, party: str, consent: Consent) -> bool:
        """Whether `party`'s feed node needs this consent: it is the third party the consent names, or a
        hub through which the consenting party's tracks must pass to that party (T4, T5). No other
        partner learns of it (need to know)."""
        return party == consent.to or any(r.origin == consent.by and r.to == consent.to and r.via == party
                                          for agreement in self.node.catalog.agreements for r in agreement.relays)

    async def close(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
        await self.feed.close()  # saves what the replay buffer has not yet written
        await self.audit.close()  # writes the last decision aggregates
        self.store.close()

    # --- the Admission the FeedNode asks ---------------------------------------------------------

    def push(self, node_id: str, certificate: bytes | None) -> bool:
        """Only a partner's node, over TLS with the client certificate pinned for that partner."""
        peer = self.feed.peers.get(node_id)
        partner = self.partners.get(peer.party) if peer is not None else None
        return partner is not None and certificate is not None and fingerprint(certificate) == partner.tls_fingerprint

    async def pull(self, reader_id: str, authorization: str | None) -> Official | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return await asyncio.to_thread(officials.authenticate, self.node, token.strip(), via=VIA)
        except AuthenticationFailed:
            return None

    # --- consents --------------------------------------------------------------------------------

    def _verified(self, record: bytes) -> Consent | None:
        try:
            verified = verify_record(record, trusted=self._trusted, expected_type="consent")
        except InvalidRecord:
            return None
        if verified.body.get("by") != verified.signer.party:
            return None  # a party consents only for itself
        found = consents_from_records([record], self._trusted)
        return found[0] if found else None

    async def _merge(self, records: list[bytes]) -> list[bytes]:
        """Standing consents, verified, added and passed on to the links of the partners that need them
        (`_needs`). A consent for one item is no business of the feed (tracks are not items) and is never
        passed on: it would tell partners of an item and a third party they have no need to know of."""
        new = []
        for record in records:
            if record in self._consents:
                continue
            consent = self._verified(record)
            if consent is not None and consent.item_id is None:
                self._consents[record] = consent
                new.append(record)
        if new:
            self.feed.invalidate()
            for party, link in self._links.items():  # before any batch that relies on them
                needed = [r for r in new if self._needs(party, self._consents[r])]
                if needed:
                    await link.send_control(consents_message(needed))
        return new

    async def _received(self, party: str, records: list[bytes]) -> None:
        await self._merge(records)

    def _table_records(self) -> list[bytes]:
        with self.node.store.unit_of_work(readonly=True) as uow:
            parties = sorted(self.node.catalog.schemes.parties)
            return [r for party in parties for r in granted_consents(uow, party).standing]

    async def refresh_consents(self) -> None:
        await self._merge(await asyncio.to_thread(self._table_records))

    async def _poll_consents(self) -> None:
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
        wanted = {o.official.id for o in self.streams.values()} | {gate.subject.id for gate in readers}
        if not wanted:
            return
        current = await asyncio.to_thread(self._register, wanted)

        def now(official: Official) -> Official:  # gone from the register: as good as revoked
            return current.get(official.id) or replace(official, status=OfficialStatus.REVOKED)

        owners_changed = False
        for stream, origin in list(self.streams.items()):
            if now(origin.official) != origin.official:
                self.streams[stream] = Origination(now(origin.official), origin.label)
                owners_changed = True
        if owners_changed:
            self.feed.invalidate()
        for gate in readers:
            if now(gate.subject) != gate.subject:
                gate.subject = now(gate.subject)
                gate.invalidate()

    def _register(self, official_ids: set[str]) -> dict[str, Official]:
        with self.node.store.unit_of_work(readonly=True) as uow:
            records = {i: uow.officials.get(i) for i in official_ids}
        return {i: r.official for i, r in records.items() if r is not None}

    # --- originating (the HTTP ingest) ---------------------------------------------------------------

    async def publish(self, actor: Actor, label: Label, batch: Sequence[TrackInput]) -> dict[str, int]:
        """Originate `batch` under `label` as `actor`; returns each stream's newest seq.

        The first message of a stream is a decision (originate, audited, allowed or refused); the stream
        then belongs to that official and keeps that label. Later batches for it must come from the same
        official with the same marking.
        """
        bodies = [track_body(m) for m in batch]  # all or nothing: a bad message refuses the batch
        for stream in dict.fromkeys(m.stream for m in batch):
            if stream not in self.streams:
                await self._start_stream(actor, stream, label)
            started = self.streams[stream]  # re-read: a concurrent batch may have started it meanwhile
            if started.official.id != actor.official.id:
                raise PermissionDenied(f"stream {stream} was started by another official",
                                       rules=("G2",), reasons=(f"only {started.official.id} feeds stream {stream}.",))
            elif replace(started.label, created_at=label.created_at) != label:
                raise Conflict(f"stream {stream} keeps the label it started with ({started.label.classification})")
        newest: dict[str, int] = {}
        for m, body in zip(batch, bodies, strict=True):
            seq = m.seq if m.seq is not None else self.next_seq(m.stream)
            held = self.streams[m.stream].label
            await self.feed.originate(TrackMessage(m.stream, seq, self.node.party, m.sensor, m.time, m.stale, held,
                                                   body))
            newest[m.stream] = max(newest.get(m.stream, 0), seq)
        return newest

    def next_seq(self, stream: str) -> int:
        return self.feed.tracker.next_seq(stream)

    async def _start_stream(self, actor: Actor, stream: str, label: Label) -> None:
        at = self.node.clock()
        decision = self.decider(Request(Action.ORIGINATE, at, actor.official, label, item_id=stream))

        def audit() -> None:
            with self.node.store.unit_of_work() as uow:
                append(uow, at, [draft(actor, "feed.originate", stream, decision)])

        await asyncio.to_thread(audit)
        if not decision.allowed:
            raise PermissionDenied(" ".join(decision.reasons) or "refused by the policy", rules=decision.rules,
                                   reasons=decision.reasons)
        await self.refresh_consents()  # a consent given a moment ago reaches the hub before the stream
        if stream not in self.streams:
            self.streams[stream] = Origination(actor.official, label)
            await asyncio.to_thread(self.store.remember_origin, stream, actor.official.id, label.canonical_bytes())

    def _restore_origins(self) -> None:
        """After a restart: each stream is still its starting official's, if that official is still active
        (otherwise it has no releaser and stays home, default deny), under the label it started with."""
        origins = self.store.origins()
        if not origins:
            return
        with self.node.store.unit_of_work(readonly=True) as uow:
            records = {o: uow.officials.get(o) for o in {official for official, _ in origins.values()}}
        for stream, (official_id, label_bytes) in origins.items():
            record = records.get(official_id)
            if record is not None and record.official.status is OfficialStatus.ACTIVE:
                label = Label.from_canonical(label_bytes, self.node.catalog.schemes)
                self.streams[stream] = Origination(record.official, label)

    # --- what exists -----------------------------------------------------------------------------------

    def visible_streams(self, official: Official) -> list[StreamInfo]:
        """The streams `official` may read (R7.2), each with its newest message."""
        gate = ReaderFilter(self.decider, self.feed.clock, official)
        out = []
        for stream in self.feed.streams():
            newest = self.feed.newest(stream)
            found, _ = self.feed.buffer.replay(stream, newest, newest)
            msg = self.feed.message(found[0]) if found else None
            if msg is not None and gate.allows(msg):
                out.append(StreamInfo(stream, msg.originator, newest, str(msg.label.classification), msg.label.provider,
                                      msg.kind, msg.time))
        return out


def pinned_to(expected: str) -> CertificatePin:
    """A link's check of the partner's TLS certificate against the fingerprint pinned in peers.toml."""
    return lambda der: der is not None and fingerprint(der) == expected


def track_body(m: TrackInput) -> Body:
    error = Uncertainty(m.error.ce_m, m.error.le_m)
    if m.kind == "end":
        return EndOfTrack(m.reason or "ended")
    if m.kind == "update":
        if m.position is None or m.velocity is None:
            raise InvalidInput(f"{m.stream}: an update needs position and velocity")
        return TrackUpdate(_position(m.position), Velocity(m.velocity.east, m.velocity.north, m.velocity.up), error)
    if m.kind not in ("launch", "impact"):
        raise InvalidInput(f"{m.stream}: unknown kind {m.kind!r}")
    if m.point is None:
        raise InvalidInput(f"{m.stream}: a {m.kind} needs a point")
    if m.kind == "launch":
        return LaunchEvent(_position(m.point), error)
    if m.impact_time is None:
        raise InvalidInput(f"{m.stream}: an impact prediction needs impact_time")
    return ImpactPrediction(_position(m.point), error, m.impact_time)


def _position(p: PointInput) -> Position:
    return Position(p.lat, p.lon, p.alt_m)
