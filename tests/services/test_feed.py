"""The feed's use cases on each backend, with a stand-in for the running feed: a stream's first message is an
originate decision, audited allowed or refused and recorded with the stream's official and label (restored
after a restart); a stream is fed by its starter only, under its label (G2); the register re-read; the streams
an official may see (R7.2); the hops' aggregates in the audit trail."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from tests.feed.helpers import NOW, make_label

from gsomia.domain.hops import HopDecisions
from gsomia.domain.officials import Official, OfficialStatus
from gsomia.domain.tracks import EndOfTrack, TrackMessage
from gsomia.services import audit, officials
from gsomia.services.context import Actor, Node
from gsomia.services.errors import Conflict, PermissionDenied
from gsomia.services.feed import (
    Origination,
    SensorTrack,
    publish,
    registered,
    start_stream,
    stream_origins,
    visible_streams,
)
from gsomia.services.feed_audit import record_hop_decisions
from gsomia.storage.records import AuditEntry


class StandIn:
    """What the use cases see of a running feed (a services.feed.LiveFeed), recording what went out."""

    def __init__(self, streams: dict[str, Origination] | None = None) -> None:
        self.streams: dict[str, Origination] = dict(streams or {})
        self.sent: list[TrackMessage] = []
        self.consent_reads = 0

    def next_seq(self, stream: str) -> int:
        return 1 + max((m.seq for m in self.sent if m.stream == stream), default=0)

    async def refresh_consents(self) -> None:
        self.consent_reads += 1

    @contextlib.asynccontextmanager
    async def numbering(self, streams: list[str]) -> AsyncIterator[None]:
        yield  # one process: its own numbers are the stream's

    async def originate(self, msg: TrackMessage) -> None:
        self.sent.append(msg)

    def newest_messages(self) -> list[TrackMessage]:
        return list({m.stream: m for m in sorted(self.sent, key=lambda m: m.seq)}.values())

    def stream_messages(self, stream: str) -> list[TrackMessage]:
        return sorted((m for m in self.sent if m.stream == stream), key=lambda m: m.seq)


@pytest.fixture
def staff(ctx: Node, officer: Actor) -> Callable[..., Actor]:
    def appoint(name: str, topics: tuple[str, ...] = ("dprk-missile",), roles: tuple[str, ...] = ("reader",
                                                                                                 "releasing_official"),
                clearance: str = "KOR:II") -> Actor:
        record = officials.appoint(ctx, officer, name=name, clearance=clearance, granted=NOW - timedelta(days=1),
                                   expires=None, need_to_know=topics, roles=roles, reason="feed watch")
        return Actor(record.official, "api")
    return appoint


def tracks(stream: str, count: int) -> list[SensorTrack]:
    return [SensorTrack(stream, None, "KOR-S1", 1_800_000_000.0 + i, 1_800_000_600.0, EndOfTrack("x"))
            for i in range(count)]


def originations(ctx: Node, officer: Actor, stream: str) -> list[AuditEntry]:
    return [e for e in audit.tail(ctx, officer, 50) if (e.action, e.subject) == ("feed.originate", stream)]


def test_R7_2_a_streams_first_message_is_decided_audited_and_recorded(ctx: Node, officer: Actor,
                                                                     staff: Callable[..., Actor]) -> None:
    releaser = staff("Park Releaser")
    feed = StandIn()
    assert asyncio.run(publish(ctx, feed, releaser, make_label(), tracks("KOR-S1-A", 3))) == {"KOR-S1-A": 3}
    assert [(m.seq, m.originator, m.label) for m in feed.sent] == [(n, "KOR", make_label()) for n in (1, 2, 3)]
    [entry] = originations(ctx, officer, "KOR-S1-A")  # one decision for the stream, not one per message
    assert (entry.actor, entry.via, entry.decision) == (releaser.official.id, "api", "allow")
    assert "R7.2" in entry.rules and feed.consent_reads == 1  # consents re-read before the stream goes out
    restarted = stream_origins(ctx)  # the stream's record: a restarted node gives it back
    assert restarted == {"KOR-S1-A": Origination(releaser.official, make_label())}
    asyncio.run(publish(ctx, StandIn(restarted), releaser, make_label(), tracks("KOR-S1-A", 1)))
    assert len(originations(ctx, officer, "KOR-S1-A")) == 1


def test_R7_2_a_refused_origination_is_audited_and_nothing_goes_out(ctx: Node, officer: Actor,
                                                                    staff: Callable[..., Actor]) -> None:
    outsider = staff("Choi Outsider", topics=("dprk-nuclear",))  # no need-to-know for missiles
    feed = StandIn()
    with pytest.raises(PermissionDenied) as refused:
        asyncio.run(publish(ctx, feed, outsider, make_label(), tracks("KOR-S1-B", 2)))
    assert "R7.2" in refused.value.rules
    [entry] = originations(ctx, officer, "KOR-S1-B")
    assert (entry.actor, entry.decision) == (outsider.official.id, "deny")
    assert feed.sent == [] and feed.streams == {} and stream_origins(ctx) == {}


def test_R6_e_an_official_suspended_since_they_were_configured_originates_nothing(
        ctx: Node, officer: Actor, staff: Callable[..., Actor]) -> None:
    listener = staff("CoT Bridge")  # a CoT listener's official, as it was when the listener started
    officials.suspend(ctx, officer, listener.official.id, reason="inquiry")
    with pytest.raises(PermissionDenied) as refused:
        asyncio.run(publish(ctx, StandIn(), Actor(listener.official, "cot"), make_label(), tracks("KOR-S1-F", 1)))
    assert "R6.e" in refused.value.rules
    [entry] = originations(ctx, officer, "KOR-S1-F")
    assert (entry.actor, entry.via, entry.decision) == (listener.official.id, "cot", "deny")


def test_G2_a_stream_is_fed_by_its_starter_only_and_keeps_its_label(ctx: Node, officer: Actor,
                                                                    staff: Callable[..., Actor]) -> None:
    releaser, other = staff("Park Releaser"), staff("Kang Other")
    feed = StandIn()
    asyncio.run(publish(ctx, feed, releaser, make_label(), tracks("KOR-S1-C", 1)))
    with pytest.raises(PermissionDenied) as hijack:
        asyncio.run(publish(ctx, feed, other, make_label(), tracks("KOR-S1-C", 1)))
    assert hijack.value.rules == ("G2",)
    with pytest.raises(Conflict):
        asyncio.run(publish(ctx, feed, releaser, make_label(topics=("dprk-missile", "dprk-nuclear")),
                            tracks("KOR-S1-C", 1)))
    # A feed that has not heard of the stream yet (a concurrent start): the record decides, no second decision.
    assert start_stream(ctx, other, "KOR-S1-C", make_label()).official == releaser.official
    assert len(originations(ctx, officer, "KOR-S1-C")) == 1 and len(feed.sent) == 1


def test_R6_e_the_register_re_read_gives_each_official_as_it_stands_now(ctx: Node, officer: Actor,
                                                                       staff: Callable[..., Actor]) -> None:
    analyst = staff("Lee Analyst").official
    officials.suspend(ctx, officer, analyst.id, reason="inquiry")
    gone = Official(party="KOR", clearance=analyst.clearance, clearance_expires=None, need_to_know=frozenset(),
                    roles=frozenset(), id="OFF-gone")
    now = registered(ctx, [analyst, gone])
    assert now[analyst.id].status is OfficialStatus.SUSPENDED
    assert now["OFF-gone"].status is OfficialStatus.REVOKED  # gone from the register: as good as revoked


def test_R7_2_an_official_sees_the_streams_they_may_read(ctx: Node, staff: Callable[..., Actor]) -> None:
    releaser = staff("Park Releaser")
    feed = StandIn()
    asyncio.run(publish(ctx, feed, releaser, make_label(), tracks("KOR-S1-D", 2)))
    reader = staff("Yoon Reader", roles=("reader",)).official
    [seen] = visible_streams(ctx, feed, reader)
    assert (seen.stream, seen.originator, seen.newest_seq, seen.classification) == ("KOR-S1-D", "KOR", 2, "KOR:II")
    assert visible_streams(ctx, feed, staff("Han Low", roles=("reader",), clearance="KOR:III").official) == []


def test_the_hops_aggregates_become_chained_audit_entries(ctx: Node, officer: Actor) -> None:
    records = [HopDecisions("relay", "node:KOR", "KOR-S1-E", "to JPN", False, ("G1",), ("JPN is not in REL TO.",),
                            None, 4, 1, 4, 0.0, 1.0),
               HopDecisions("read", "OFF-1", "KOR-S1-E", "reader OFF-1", True, ("R7.2",), ("may read",),
                            "jpn-kor-gsomia-2016", 4, 1, 4, 0.0, 1.0)]
    record_hop_decisions(ctx, records)
    entries = [e for e in audit.tail(ctx, officer, 10) if e.subject == "KOR-S1-E"]
    assert [(e.action, e.decision, e.via) for e in entries] == [("feed.relay", "deny", "feed"),
                                                                ("feed.read", "allow", "feed")]
    assert entries[1].reasons[-2:-1] == ("agreement: jpn-kor-gsomia-2016",)
    assert entries[1].prev_hash == entries[0].entry_hash  # chained, one after the other
