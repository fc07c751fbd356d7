"""The loopback chain sensor → KOR → USA hub → JPN → subscriber over real WebSockets on 127.0.0.1.

No timing thresholds: every wait is a bounded poll for a condition, and failures name what is missing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from gsomia.domain.catalog import Catalog
from gsomia.domain.officials import Role
from gsomia.domain.schemes import Classification
from gsomia.domain.tracks import Routed, TrackMessage
from gsomia.feed.dissemination import PeerFilter
from gsomia.feed.pipeline import Pipeline, build_pipeline
from gsomia.feed.trajectory import TrackSource, ballistic_track, scenario_for_seed

from .helpers import make_label, official


def track(n: int, stream: str = "KOR-T1", label_args: dict[str, object] | None = None) -> list[TrackMessage]:
    label = make_label(**(label_args or {}))  # type: ignore[arg-type]
    source = TrackSource(label, stream, rate_hz=20.0, stale_after_s=3600.0)
    out = []
    for msg in ballistic_track(scenario_for_seed(7), source, time.time()):
        out.append(msg)
        if len(out) == n:
            break
    return out


async def until(condition: Callable[[], bool], what: str, polls: int = 1000) -> None:
    for _ in range(polls):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def received(p: Pipeline) -> list[tuple[str, int]]:
    return [(u.msg.stream, u.msg.seq) for u in list(p.subscriber.updates._queue)]  # type: ignore[attr-defined]


def run(catalog: Catalog, scenario: Callable[[Pipeline], object], **kwargs: object) -> None:
    async def main() -> None:
        p = await build_pipeline(catalog, **kwargs)  # type: ignore[arg-type]
        try:
            await p.wait_connected()
            await scenario(p)  # type: ignore[misc]
        finally:
            await p.close()
    asyncio.run(main())


def test_a_track_reaches_the_jpn_subscriber_whole_in_order_and_re_marked(catalog: Catalog) -> None:
    msgs = track(300)

    async def scenario(p: Pipeline) -> None:
        for m in msgs:
            await p.send(m)
        await until(lambda: p.subscriber.updates.qsize() == len(msgs), "all messages at the subscriber")
        got = [p.subscriber.updates.get_nowait() for _ in msgs]
        assert [u.msg.seq for u in got] == [m.seq for m in msgs]
        assert [u.msg.body for u in got] == [m.body for m in msgs]
        label = got[0].msg.label
        assert label.originator == "KOR" and label.classification == Classification("KOR", "II")
        assert label.provider == "USA" and label.national_marking == Classification("JPN", "GOKUHI")
        assert not any(u.late or u.stale for u in got)
        assert [n.refused for n in p.nodes] == [0, 0, 0, 0]
        assert p.usa.signer._number < len(msgs)  # batching happened somewhere, or at worst one per message

    run(catalog, scenario)


def test_without_kor_consent_the_hub_holds_the_track_but_does_not_relay_it(catalog: Catalog) -> None:
    msgs = track(50)

    async def scenario(p: Pipeline) -> None:
        for m in msgs:
            await p.send(m)
        await until(lambda: len(p.probe.stamps["USA"]) == len(msgs), "the hub to receive the track")
        link_gate = p.links[2].gate
        assert isinstance(link_gate, PeerFilter)
        await until(lambda: link_gate.refused == len(msgs), "the hub's gate to JPN to stop every message")
        assert p.subscriber.updates.qsize() == 0 and not p.probe.stamps["JPN"]
        assert link_gate.decisions_made == 1  # once for the stream, not per message
        # Consent given (a written, signed record in real life): the decision is revisited.
        from gsomia.feed.pipeline import standing_consent
        p.consents.append(standing_consent())
        link_gate.invalidate()
        for node in p.nodes:
            for receipt in node._receipts.values():
                receipt.invalidate()
        await p.send(track(51)[-1])
        await until(lambda: p.subscriber.updates.qsize() == 51, "the whole track after consent (gap replayed)")

    run(catalog, scenario, consents=())


def test_noforn_track_never_leaves_kor(catalog: Catalog) -> None:
    msgs = track(20, label_args={"releasable": ("KOR",)})

    async def scenario(p: Pipeline) -> None:
        for m in msgs:
            await p.send(m)
        await until(lambda: len(p.probe.stamps["KOR"]) == len(msgs), "KOR to hold the track")
        gate = p.links[1].gate
        assert isinstance(gate, PeerFilter)
        await until(lambda: gate.refused == len(msgs), "KOR's gate to USA to stop every message")
        assert not p.probe.stamps["USA"] and p.subscriber.updates.qsize() == 0

    run(catalog, scenario)


def test_a_reader_without_clearance_gets_nothing(catalog: Catalog) -> None:
    msgs = track(20)
    low = official("JPN", "HI", Role.READER, ident="jpn-low")

    async def scenario(p: Pipeline) -> None:
        for m in msgs:
            await p.send(m)
        await until(lambda: len(p.probe.stamps["JPN"]) == len(msgs), "JPN to hold the track")
        await until(lambda: sum(g.refused for g in p.jpn.reader_gates) == len(msgs),
                    "the subscriber's gate to stop every message")
        assert p.subscriber.updates.qsize() == 0

    run(catalog, scenario, reader=low)


def test_forced_disconnects_leave_no_gap_and_no_duplicate(catalog: Catalog) -> None:
    msgs = track(600)

    async def scenario(p: Pipeline) -> None:
        for m in msgs[:200]:
            await p.send(m)
        await until(lambda: p.subscriber.updates.qsize() >= 100, "the first messages")
        await p.links[1].drop_connection()        # KOR → USA breaks mid-stream
        for m in msgs[200:400]:
            await p.send(m)
        await p.subscriber.drop_connection()      # and the subscriber's own connection too
        for m in msgs[400:]:
            await p.send(m)
        await until(lambda: p.subscriber.updates.qsize() >= len(msgs), "every message after reconnects")
        await asyncio.sleep(0.05)
        seqs = [s for _, s in received(p)]
        assert sorted(seqs) == [m.seq for m in msgs], "each message exactly once"
        assert p.links[1].connections >= 2 and p.subscriber.connections >= 2
        assert p.subscriber.tracker.missing("KOR-T1") == [] and p.subscriber.tracker.lost("KOR-T1") == 0

    run(catalog, scenario)


def test_a_hole_is_asked_for_and_replayed(catalog: Catalog) -> None:
    msgs = track(100)

    class Flaky:
        """Loses messages 30-39 once on the USA → JPN link, as a dropped frame would."""

        def __init__(self, inner: PeerFilter) -> None:
            self.inner, self.lost = inner, 0

        def allows(self, msg: Routed) -> bool:
            if 30 <= msg.seq < 40 and self.lost < 10:
                self.lost += 1
                return False
            return self.inner.allows(msg)

    async def scenario(p: Pipeline) -> None:
        link = p.links[2]
        assert link.sender is not None and isinstance(link.gate, PeerFilter)
        link.sender.source.gate = Flaky(link.gate)
        for m in msgs:
            await p.send(m)
        await until(lambda: p.subscriber.updates.qsize() >= len(msgs), "the hole to be filled")
        updates = list(p.subscriber.updates._queue)  # type: ignore[attr-defined]
        late = sorted(u.msg.seq for u in updates if u.late)
        assert late == list(range(30, 40))
        assert p.jpn.tracker.missing("KOR-T1") == []

    run(catalog, scenario)


def test_replay_that_the_sender_cannot_serve_is_counted_lost_not_awaited(catalog: Catalog) -> None:
    async def scenario(p: Pipeline) -> None:
        msgs = track(10)
        for m in msgs:
            await p.send(m)
        await until(lambda: p.subscriber.updates.qsize() == 10, "the first ten")
        # A message numbered far ahead: 11..49 never existed anywhere, so JPN is told they are gone.
        from dataclasses import replace
        await p.send(replace(msgs[-1], seq=50))
        await until(lambda: p.subscriber.tracker.lost("KOR-T1") == 39, "the hole to be given up as lost")
        assert p.subscriber.tracker.missing("KOR-T1") == []

    run(catalog, scenario)


def test_a_restarted_node_replays_from_its_sqlite_buffer(catalog: Catalog, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gsomia.feed.node import FeedNode
    from gsomia.feed.replay import ReplayBuffer
    from gsomia.storage.feed import open_replay_file

    msgs = track(30)
    node_official = official("KOR", "I", Role.NODE)

    async def first_life() -> None:
        store = open_replay_file(tmp_path / "kor.db")
        node = FeedNode("KOR", "KOR-node", Ed25519PrivateKey.generate(), catalog, node_official,
                        buffer=ReplayBuffer(time.time, store=store))
        for m in msgs:
            await node.originate(m)
        await node.close()
        store.close()

    async def second_life() -> None:
        store = open_replay_file(tmp_path / "kor.db")
        node = FeedNode("KOR", "KOR-node", Ed25519PrivateKey.generate(), catalog, node_official,
                        buffer=ReplayBuffer(time.time, store=store))
        assert node.tracker.positions() == {"KOR-T1": 31}   # resumes after what it holds
        found, gone = node.replay("KOR-T1", 1, None)
        assert gone == [] and [node.message(s) for s in found] == msgs
        await node.close()
        store.close()

    asyncio.run(first_life())
    asyncio.run(second_life())
