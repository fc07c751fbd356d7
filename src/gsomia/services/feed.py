"""The missile-warning feed's use cases: a stream originated, the streams an official may see, the register
re-read, the replay store opened. Who may connect and which consents travel where: `feed_links`; the hops'
decisions into the audit trail: `feed_audit`.

Every way into the feed (HTTP `POST /v1/feed/tracks`, a CoT listener) calls `publish`, so every one gets the
same decision and audit: the first message of a stream asks the policy whether this official may originate
it under this label (`start_stream`: decided, audited allowed or refused, and recorded, in one transaction on
the node's writer); the stream then belongs to that official and keeps that label, and a restarted node
gives it back (`stream_origins`). Later messages of the stream must come from the same official (G2) under
the same marking.

The use cases never touch the feed's sockets: what they need of the running feed is a `LiveFeed`, which
the composition root builds (`gsomia.feed.served.NodeFeed`) and hands to the API.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Protocol

from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, OfficialStatus
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Request
from gsomia.domain.tracks import Body, TrackMessage, label_digest
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import Conflict, PermissionDenied
from gsomia.services.exchange_common import refused
from gsomia.storage.feed import ReplayStore, open_replay_file, replay_store_in
from gsomia.storage.records import StreamOrigin

REPLAY_FILE = "feed-replay.db"  # a SQLite node's replay store, in its data directory beside its database


@dataclass(frozen=True, slots=True)
class Origination:
    """Who started a stream here, and the label it keeps for its life."""

    official: Official
    label: Label


@dataclass(frozen=True, slots=True)
class SensorTrack:
    """One track message as a sensor or C2 system hands it in: under its batch's label, numbered or not
    (`seq` None: the node numbers on)."""

    stream: str
    seq: int | None
    sensor: str
    time: float
    stale: float
    body: Body


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A stream as the streams list shows it: its newest message's number, kind and time."""

    stream: str
    originator: str
    newest_seq: int
    classification: str
    provider: str | None
    last_kind: str
    last_time: float


class HeldTracks(Protocol):
    """Tracks a node's feed holds: the running feed, or its replay store as written behind (`gsomia feed streams`)."""

    def newest_messages(self) -> list[TrackMessage]:
        """Each stream's newest message held here."""
        ...

    def stream_messages(self, stream: str) -> list[TrackMessage]:
        """Every message of `stream` held here, in sequence order (none if the stream is unknown)."""
        ...


class LiveFeed(HeldTracks, Protocol):
    """What the use cases need of the node's running feed (`gsomia.feed.served.NodeFeed`)."""

    streams: dict[str, Origination]  # who started each stream here (its gates release as that official)

    def next_seq(self, stream: str) -> int:
        """The number the stream's next message gets when its sensor leaves it out."""
        ...

    async def refresh_consents(self) -> None:
        """Re-read the standing consents, and pass new ones to the partners that need them."""
        ...

    def numbering(self, streams: Sequence[str]) -> AbstractAsyncContextManager[None]:
        """One post numbering `streams` (`next_seq`, then `originate` each message), all inside the block: with a
        shared feed broker it continues from what any process of this node published on them, and stores what
        the post originated there, whole, as the block ends (Conflict if another process numbered them meanwhile:
        nothing of the post is kept); in one process, nothing to do."""
        ...

    async def originate(self, msg: TrackMessage) -> None:
        """Into the feed: sequenced, buffered, and on to subscribers and partners, each hop decided."""
        ...

    def watch(self, official: Official) -> AbstractAsyncContextManager[TrackWatch]:
        """The tracks `official` may read (R7.2), as the feed delivers them to a subscriber: what the replay
        buffer holds first, then live; each stream's read decided and audited by the feed's reader gate."""
        ...


class TrackWatch(Protocol):
    """One official's view of the feed, while it is open (`LiveFeed.watch`)."""

    async def next(self) -> list[TrackMessage]:
        """The next messages this official may read: the buffered history on the first call, then as they
        come (waits until there is one)."""
        ...


async def publish(node: Node, feed: LiveFeed, actor: Actor, label: Label,
                  tracks: Sequence[SensorTrack]) -> dict[str, int]:
    """Originate `tracks` under `label` as `actor` (every way in calls this); each stream's newest number.

    Raises PermissionDenied (a refused origination, or another official's stream) or Conflict (a stream
    keeps its label) before any message of the batch goes out; Conflict also when, with a shared feed broker,
    another feed process of this node numbered one of its streams at the same moment (nothing of it is kept).
    """
    for stream in dict.fromkeys(t.stream for t in tracks):
        started = feed.streams.get(stream)
        if started is None:
            started = await node.write(start_stream, node, actor, stream, label)
            if stream not in feed.streams:
                await feed.refresh_consents()  # a consent given a moment ago reaches the hub before the stream
            started = feed.streams.setdefault(stream, started)  # a concurrent batch may have started it meanwhile
        _require_feeder(started, actor, stream, label)
    arrived = time.perf_counter()
    newest: dict[str, int] = {}
    # A stream's messages share its label: its digest once per batch, not once per message (a third of the cost).
    held = {stream: (feed.streams[stream].label, label_digest(feed.streams[stream].label))
            for stream in dict.fromkeys(t.stream for t in tracks)}
    async with feed.numbering(list(held)):
        for t in tracks:
            seq = t.seq if t.seq is not None else feed.next_seq(t.stream)
            stream_label, digest = held[t.stream]
            await feed.originate(TrackMessage(t.stream, seq, node.party, t.sensor, t.time, t.stale, stream_label,
                                              t.body, digest))
            newest[t.stream] = max(newest.get(t.stream, 0), seq)
    node.metrics.feed_hop("post", time.perf_counter() - arrived)
    return newest


def start_stream(node: Node, actor: Actor, stream: str, label: Label) -> Origination:
    """A new stream: may `actor` originate it under `label` (R7.2, R6.b, G2)? Decided and audited, allowed or
    refused, and recorded if allowed, in one transaction. A stream already recorded stays its starter's."""
    at = node.clock()
    with node.store.unit_of_work() as uow:
        held = uow.feed_streams.get(stream)
        if held is not None:
            starter = uow.officials.get(held.official_id)
            if starter is None:
                raise PermissionDenied(f"stream {stream} was started by an official no longer registered",
                                       rules=("G2",), reasons=(f"only {held.official_id} feeds stream {stream}.",))
            return Origination(starter.official, Label.from_canonical(held.label_bytes, node.schemes))
        # As the register holds the official now: a listener's configured official may have been suspended.
        record = uow.officials.get(actor.official.id)
        official = record.official if record is not None else actor.official
        decision = decide(Request(Action.ORIGINATE, at, official, label, item_id=stream), node.catalog)
        append(uow, at, [draft(actor, "feed.originate", stream, decision)])
        if decision.allowed:
            uow.feed_streams.add(StreamOrigin(stream, official.id, label.canonical_bytes(), at))
    if not decision.allowed:
        raise refused(decision)
    return Origination(official, label)


def _require_feeder(started: Origination, actor: Actor, stream: str, label: Label) -> None:
    if started.official.id != actor.official.id:
        raise PermissionDenied(f"stream {stream} was started by another official", rules=("G2",),
                               reasons=(f"only {started.official.id} feeds stream {stream}.",))
    if replace(started.label, created_at=label.created_at) != label:
        raise Conflict(f"stream {stream} keeps the label it started with ({started.label.classification})")


def stream_origins(node: Node) -> dict[str, Origination]:
    """Every stream started here, with its official as the register holds them now: after a restart each
    stream is still its starter's and keeps its label; one whose official is no longer active has no
    releaser and stays home (the policy refuses its releases, R6.e)."""
    with node.store.unit_of_work(readonly=True) as uow:
        held = uow.feed_streams.all()
        starters = {o: uow.officials.get(o) for o in {h.official_id for h in held}}
    origins = {}
    for origin in held:
        starter = starters[origin.official_id]
        if starter is not None:
            origins[origin.stream] = Origination(starter.official, Label.from_canonical(origin.label_bytes,
                                                                                         node.schemes))
    return origins


def registered(node: Node, officials: Iterable[Official]) -> dict[str, Official]:
    """The register re-read: each official as it holds them now (by id); one gone from it is as good as
    revoked. The feed asks it for its streams' owners and its subscribers, so that a suspension, a
    revocation or a changed clearance stops their releases and reads at once (R6.e, R7.2)."""
    known = {official.id: official for official in officials}
    with node.store.unit_of_work(readonly=True) as uow:
        records = {official_id: uow.officials.get(official_id) for official_id in known}
    return {official_id: record.official if record is not None
            else replace(known[official_id], status=OfficialStatus.REVOKED)
            for official_id, record in records.items()}


def visible_streams(node: Node, feed: HeldTracks, official: Official) -> list[StreamInfo]:
    """The streams this node holds that `official` may read (R7.2), each with its newest message."""
    at = node.clock()
    return [StreamInfo(msg.stream, msg.originator, msg.seq, str(msg.label.classification), msg.label.provider,
                       msg.kind, msg.time)
            for msg in feed.newest_messages()
            if decide(Request(Action.READ, at, official, msg.label, item_id=msg.stream), node.catalog).allowed]


def watch_tracks(node: Node, feed: LiveFeed, actor: Actor) -> AbstractAsyncContextManager[TrackWatch]:
    """The feed as `actor` may read it (R7.2), for a screen that shows it live (the console's map). The
    official is weighed as the register holds them now, and the feed re-reads the register while the
    watch is open (a suspension stops the reads)."""
    return feed.watch(registered(node, [actor.official])[actor.official.id])


def open_replay_store(node: Node) -> ReplayStore:
    """Where the feed's replay buffer is written behind: the node's schema on PostgreSQL; on SQLite a file
    of its own in the data directory, so that the feed's writes never queue behind the node's writer."""
    if node.store.engine.dialect.name == "sqlite":
        return open_replay_file(node.settings.data_dir / REPLAY_FILE)
    return replay_store_in(node.store.engine)
