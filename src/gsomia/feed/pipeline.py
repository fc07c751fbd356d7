"""A loopback missile-warning chain in one asyncio loop, for the demo, the tests and the benchmark.

    sensor ──ws──▶ KOR node ──ws──▶ USA hub ──ws──▶ JPN node ──ws──▶ JPN subscriber

Every hop re-signs its batches and applies the policy: KOR releases its own track to USA; USA
receives it (re-marked USA:S, provided by KOR) and relays it to JPN only under KOR's standing
written consent (TISA T5); JPN receives it (re-marked, provided by USA); the subscriber reads it
only with clearance and need-to-know. A `LatencyProbe` stamps every message at every point.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gsomia.domain.catalog import Catalog
from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, Role
from gsomia.domain.schemes import Classification
from gsomia.domain.tracks import TrackMessage
from gsomia.feed.broker import AllowAll
from gsomia.feed.dissemination import Consents
from gsomia.feed.hop_audit import HopLedger
from gsomia.feed.node import FeedNode
from gsomia.feed.peer_link import PeerLink
from gsomia.feed.peers import Peer
from gsomia.feed.replay import ReplayBuffer
from gsomia.feed.subscriber import FeedSubscriber, Update

POINTS = ("sensor", "KOR", "USA", "JPN", "subscriber")


def _official(party: str, code: str, role: Role, ident: str) -> Official:
    return Official(party=party, clearance=Classification(party, code), clearance_expires=None,
                    need_to_know=frozenset({"dprk-missile"}), roles=frozenset({role}), id=ident)


def standing_consent() -> Consent:
    """KOR's standing written consent (T5) for the US hub to pass its missile tracks on to JPN."""
    return Consent(by="KOR", to="JPN", topics=frozenset({"dprk-missile"}), id="kor-jpn-missile-standing")


def standing_consents() -> tuple[Consent, ...]:
    return (standing_consent(),)


@dataclass
class LatencyProbe:
    """Stamps (perf_counter) per point per (stream, seq); bounded by the messages of one run."""

    stamps: dict[str, dict[tuple[str, int], float]] = field(default_factory=lambda: {p: {} for p in POINTS})

    def mark(self, point: str, msg: TrackMessage) -> None:
        self.stamps[point].setdefault((msg.stream, msg.seq), time.perf_counter())

    def hop_ms(self, start: str, end: str) -> list[float]:
        a, b = self.stamps[start], self.stamps[end]
        return [(b[k] - a[k]) * 1000.0 for k in b if k in a]

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for start, end in [*pairwise(POINTS), ("sensor", "subscriber")]:
            out[f"{start}→{end}"] = percentiles(self.hop_ms(start, end))
        return out


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    ordered = sorted(samples)
    return {"n": len(ordered), "p50": statistics.median(ordered),
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], "max": ordered[-1]}


@dataclass
class Pipeline:
    sensor: FeedNode
    kor: FeedNode
    usa: FeedNode
    jpn: FeedNode
    subscriber: FeedSubscriber
    probe: LatencyProbe
    consents: list[Consent]
    links: list[PeerLink]
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def nodes(self) -> tuple[FeedNode, ...]:
        return (self.sensor, self.kor, self.usa, self.jpn)

    async def send(self, msg: TrackMessage) -> None:
        self.probe.mark("sensor", msg)
        await self.sensor.originate(msg)

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s):
            for link in self.links:
                await link.connected.wait()
            await self.subscriber.connected.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for node in self.nodes:
            await node.close()


# The chain's node ids, in order; each signs as its id and trusts only the one before it.
CHAIN = ("KOR-sensor-1", "KOR-node", "USA-hub", "JPN-node")
PARTIES = {"KOR-sensor-1": "KOR", "KOR-node": "KOR", "USA-hub": "USA", "JPN-node": "JPN"}
JPN_READER = _official("JPN", "GOKUHI", Role.READER, "jpn-watch")
_NODE_OFFICIALS = {
    "KOR-sensor-1": _official("KOR", "I", Role.NODE, "kor-sensor"),
    "KOR-node": _official("KOR", "I", Role.NODE, "kor-node"),
    "USA-hub": _official("USA", "TS", Role.NODE, "usa-hub"),
    "JPN-node": _official("JPN", "KIMITSU", Role.NODE, "jpn-node"),
}


def chain_node(node_id: str, key: Ed25519PrivateKey, public: dict[str, Ed25519PublicKey], catalog: Catalog, *,
               clock: Callable[[], float] = time.time, consents: Consents = standing_consents,
               reader: Official = JPN_READER, batch_interval_s: float = 0.002, buffer: ReplayBuffer | None = None,
               ledger: HopLedger | None = None) -> FeedNode:
    """One node of the chain (also what a separate process builds for its own node); a running node's
    persisted buffer and audit ledger may be given, as `gsomia serve` gives them."""
    index = CHAIN.index(node_id)
    upstream = CHAIN[index - 1] if index else None
    peers = {upstream: Peer(upstream, PARTIES[upstream], public[upstream])} if upstream else {}
    readers = {reader.id: reader} if node_id == "JPN-node" else {}
    return FeedNode(PARTIES[node_id], node_id, key, catalog, _NODE_OFFICIALS[node_id], peers, clock=clock,
                    consents=consents, readers=readers, batch_interval_s=batch_interval_s, buffer=buffer,
                    ledger=ledger)


def chain_link(node: FeedNode, downstream_url: str) -> PeerLink:
    """The push link from a chain node to the next one, with that hop's policy gate."""
    if node.node_id == "KOR-sensor-1":
        return node.link_to(downstream_url, AllowAll())  # own sensor to own node: no release
    peer = PARTIES[CHAIN[CHAIN.index(node.node_id) + 1]]
    releaser = _official("KOR", "I", Role.RELEASING_OFFICIAL, "kor-feed-releaser") if node.party == "KOR" \
        else node.official
    return node.link_to_peer(downstream_url, peer, releaser=releaser)


async def build_pipeline(catalog: Catalog, *, clock: Callable[[], float] = time.time,
                         consents: Iterable[Consent] = (standing_consent(),),
                         reader: Official = JPN_READER, batch_interval_s: float = 0.002) -> Pipeline:
    """Start the chain on ephemeral 127.0.0.1 ports; `await pipeline.wait_connected()` before sending."""
    keys = {name: Ed25519PrivateKey.generate() for name in CHAIN}
    public = {name: key.public_key() for name, key in keys.items()}
    held = list(consents)
    standing = lambda: tuple(held)  # noqa: E731 - read at decision time, so a withdrawal is seen
    probe = LatencyProbe()
    sensor, kor, usa, jpn = (chain_node(n, keys[n], public, catalog, clock=clock, consents=standing, reader=reader,
                                        batch_interval_s=batch_interval_s) for n in CHAIN)
    for name, node in (("KOR", kor), ("USA", usa), ("JPN", jpn)):
        node.observer = lambda _node, msg, point=name: probe.mark(point, msg)

    kor_port, usa_port, jpn_port = await kor.serve(), await usa.serve(), await jpn.serve()
    links = [chain_link(sensor, f"ws://127.0.0.1:{kor_port}"), chain_link(kor, f"ws://127.0.0.1:{usa_port}"),
             chain_link(usa, f"ws://127.0.0.1:{jpn_port}")]

    def on_update(update: Update) -> None:
        probe.mark("subscriber", update.msg)

    subscriber = FeedSubscriber(f"ws://127.0.0.1:{jpn_port}", reader.id, "JPN-node", public["JPN-node"],
                                lambda data: Label.from_canonical(data, catalog.schemes), clock=clock,
                                on_update=on_update)
    pipeline = Pipeline(sensor, kor, usa, jpn, subscriber, probe, held, links)
    pipeline._tasks.append(asyncio.ensure_future(subscriber.run()))
    return pipeline


async def demo(seed: int = 3, updates_per_second: float = 20.0, speedup: float = 100.0) -> None:
    """One launch through the chain at `speedup` × real time; prints what JPN's watch officer sees."""
    from datetime import datetime, timezone

    from gsomia.data import load_catalog
    from gsomia.domain.tracks import ImpactPrediction, LaunchEvent
    from gsomia.feed.trajectory import TrackSource, ballistic_track, scenario_for_seed

    catalog = load_catalog()
    label = Label("KOR", "KOR", Classification("KOR", "II"), frozenset({"KOR", "USA", "JPN"}),
                  frozenset({"dprk-missile"}), "missile warning", datetime.now(timezone.utc))
    pipeline = await build_pipeline(catalog)
    try:
        await pipeline.wait_connected()
        msgs = list(ballistic_track(scenario_for_seed(seed), TrackSource(label, f"KOR-DEMO-{seed}",
                                    rate_hz=updates_per_second), time.time(), seed=seed))
        t0, start = time.perf_counter(), msgs[0].time
        for msg in msgs:
            delay = (msg.time - start) / speedup - (time.perf_counter() - t0)
            if delay > 0:
                await asyncio.sleep(delay)
            await pipeline.send(msg)
        for _ in range(3000):  # bounded wait for the last message
            if len(pipeline.probe.stamps["subscriber"]) >= len(msgs):
                break
            await asyncio.sleep(0.01)
        seen = pipeline.probe.stamps["subscriber"]
        launch = next(m.body for m in msgs if isinstance(m.body, LaunchEvent))
        impact = [m.body for m in msgs if isinstance(m.body, ImpactPrediction)][-1]
        print(f"{len(seen)}/{len(msgs)} messages reached JPN's watch officer ({CHAIN[-1]} → jpn-watch),"
              f" sent at {speedup:g}× real time")
        print(f"launch reported at {launch.point.lat:.2f}N {launch.point.lon:.2f}E")
        print(f"last impact prediction {impact.point.lat:.2f}N {impact.point.lon:.2f}E"
              f" ± {impact.error.ce_m / 1000:.1f} km")
        for hop, stats in pipeline.probe.summary().items():
            print(f"  {hop:18s} p50 {stats['p50']:.2f} ms  p99 {stats['p99']:.2f} ms  (n={stats['n']:.0f})")
    finally:
        await pipeline.close()


if __name__ == "__main__":
    asyncio.run(demo())
