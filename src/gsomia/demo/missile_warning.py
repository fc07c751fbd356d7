"""The demo's last step: a simulated launch streamed through the three running `gsomia serve` nodes.

KOR's sensor posts batches over KOR's feed port (the feed protocol's post, as `gsomia feed post` does:
one TLS WebSocket, the same use case as `POST /v1/feed/tracks`); KOR releases the stream to the US hub,
which relays it to JPN under KOR's standing consent (T5). A watch officer's subscriber on each node (each
reading with its own token, R7.2) stamps every message as it arrives there, so the hops' latencies are
the differences: sensor → KOR (ingest), KOR → USA and USA → JPN (the feed links), end to end.

How the figures are taken, so that they mean what the benchmark's (benchmarks/bench_feed.py) do:
- the sensor sends what is due at every tick (at least 1 ms apart), in batches of at most MAX_BATCH, on one
  connection, without waiting for a batch's answer before sending the next (the answers are read beside),
  and stamps each message as it sends it, as bench_feed's sensor does. Before, it sent one HTTP request at
  a time and stamped its messages only when their request went out: while a request was answered the
  next messages waited at the sensor, uncounted, and at 100× real time (2,000 messages a second) requests
  of hundreds of messages held KOR's loop for hundreds of ms;
- how late this process sent each message against its due time is printed apart: a loaded machine makes
  the demo's own process late, which is not the nodes' latency;
- the first message of the stream is shown apart: it waits for the stream's originate decision to be
  written durably and for every hop's first decisions, which no later message does.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timezone

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from prometheus_client.parser import text_string_to_metric_families

from gsomia.crypto import PublicKeys, export_public
from gsomia.data import load_catalog
from gsomia.demo.loopback import LoopbackNode
from gsomia.domain.labels import Label
from gsomia.domain.schemes import Classification
from gsomia.domain.tracks import ImpactPrediction, LaunchEvent, TrackMessage
from gsomia.feed.pipeline import LatencyProbe, percentiles
from gsomia.feed.posting import PostChannel, post_channel
from gsomia.feed.subscriber import FeedSubscriber, Update
from gsomia.feed.trajectory import TrackSource, ballistic_track, scenario_for_seed
from gsomia.services.feed_posts import track_dict

CHAIN = ("KOR", "USA", "JPN")
MAX_BATCH = 100  # messages per post at most (the node takes up to 1,000)
HOPS = (("sensor", "KOR"), ("KOR", "USA"), ("USA", "JPN"), ("sensor", "JPN"))
LABEL = {"classification": "KOR:II", "releasable_to": ["KOR", "USA", "JPN"], "topics": ["dprk-missile"],
         "purpose": "missile warning"}


def watch_officer(node: LoopbackNode, on_update: Callable[[Update], None]) -> FeedSubscriber:
    keys = PublicKeys.from_dict(export_public(node.data))
    catalog = load_catalog()
    if not isinstance(keys.verify_key, Ed25519PublicKey):
        raise RuntimeError(f"{node.party}'s node does not sign with Ed25519, which the feed verifies")
    context = ssl.create_default_context(cafile=str(node.root_certificate))
    return FeedSubscriber(node.feed_url, f"{node.party.lower()}-watch", keys.node, keys.verify_key,
                          lambda data: Label.from_canonical(data, catalog.schemes), ssl_context=context,
                          headers={"Authorization": f"Bearer {node.tokens['analyst']}"}, on_update=on_update,
                          # Stamped in on_update and kept by nobody: a queue of every update (three subscribers,
                          # 16,712 messages each) only fed this process's garbage collector, whose full passes
                          # over it delayed the stamps (bench_feed's subscriber keeps one likewise).
                          maxsize=1)


async def stream_launch(nodes: dict[str, LoopbackNode], *, seed: int = 3, updates_per_second: float = 20.0,
                        speedup: float = 100.0, say: Callable[[str], None] = print) -> bool:
    """Post one simulated launch to KOR at `speedup` × real time; True if all of it reached JPN, in order."""
    probe = LatencyProbe()
    order: list[int] = []
    stream = f"KOR-DEMO-{seed}-{time.time_ns()}"

    def stamp(party: str) -> Callable[[Update], None]:
        def mark(update: Update) -> None:
            if update.msg.stream != stream:  # a stream the node held before (replayed to a new subscriber)
                return
            probe.mark(party, update.msg)
            if party == "JPN":
                order.append(update.msg.seq)
        return mark

    watchers = {p: watch_officer(nodes[p], stamp(p)) for p in CHAIN}
    tasks = [asyncio.ensure_future(w.run()) for w in watchers.values()]
    kor = nodes["KOR"]
    label = Label("KOR", "KOR", Classification("KOR", "II"), frozenset(CHAIN), frozenset({"dprk-missile"}),
                  "missile warning", datetime.now(timezone.utc))
    late_ms: list[float] = []
    msgs = list(ballistic_track(scenario_for_seed(seed), TrackSource(label, stream, rate_hz=updates_per_second),
                                time.time(), seed=seed))
    context = ssl.create_default_context(cafile=str(kor.root_certificate))
    before = await hop_times(nodes)
    gc.freeze()  # the run's pre-built messages are the harness's: keep them out of full collections
    try:
        async with asyncio.timeout(15):
            for watcher in watchers.values():
                await watcher.connected.wait()
        async with post_channel(kor.feed_url, kor.tokens["releaser"], context, name="kor-sensor") as channel:
            refusal, late_ms = await sensor(channel, msgs, speedup, probe)
        if refusal is not None:
            say(f"KOR refused the sensor's batch: {refusal}")
            return False
        async with asyncio.timeout(30):
            while len(probe.stamps["JPN"]) < len(msgs):
                await asyncio.sleep(0.01)
    except TimeoutError:
        say(f"only {len(probe.stamps['JPN'])}/{len(msgs)} messages reached JPN in time")
    finally:
        gc.unfreeze()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    during = elapsed_hops(before, await hop_times(nodes))
    launch = next(m.body for m in msgs if isinstance(m.body, LaunchEvent))
    impact = [m.body for m in msgs if isinstance(m.body, ImpactPrediction)][-1]
    say(f"{len(probe.stamps['JPN'])}/{len(msgs)} messages reached JPN's watch officer through the running nodes"
        f" (KOR → USA hub → JPN), sent at {speedup:g}× real time")
    say(f"launch reported at {launch.point.lat:.2f}N {launch.point.lon:.2f}E; last impact prediction"
        f" {impact.point.lat:.2f}N {impact.point.lon:.2f}E ± {impact.error.ce_m / 1000:.1f} km")
    lateness = percentiles(late_ms)
    say(f"  the sensor sent each message p50 {lateness['p50']:.2f} ms, p99 {lateness['p99']:.2f} ms after it was due"
        " (this process's own lateness, not counted below)")
    first = (msgs[0].stream, msgs[0].seq)
    if first in probe.stamps["JPN"]:
        say(f"  the stream's first message: {(probe.stamps['JPN'][first] - probe.stamps['sensor'][first]) * 1e3:.0f} ms"
            " sensor→JPN (the stream's originate decision, written durably, and each hop's first decisions)")
    for start_point, end_point in HOPS:
        stats = percentiles(probe.hop_ms(start_point, end_point))
        say(f"  {start_point + '→' + end_point:12s} p50 {stats['p50']:.2f} ms  p99 {stats['p99']:.2f} ms"
            f"  max {stats['max']:.2f} ms  (n={stats['n']:.0f})")
    say("  each node's own share, from its /metrics (gsomia_feed_hop_seconds, this run; bucket bounds):")
    for party, stages in during.items():
        say(f"    {party}: " + "; ".join(f"{stage} (n={count}) p50 ≤ {quantile(buckets, 0.5)} ms p99 ≤ "
                                       f"{quantile(buckets, 0.99)} ms" for stage, (count, buckets) in stages.items()))
    return order == [m.seq for m in msgs]


async def sensor(channel: PostChannel, msgs: list[TrackMessage], speedup: float,
                 probe: LatencyProbe) -> tuple[str | None, list[float]]:
    """Send `msgs` at `speedup` × real time as bench_feed's sensor paces them: at every tick (at least 1 ms
    apart) what is due, in batches of at most MAX_BATCH, each stamped as it goes; the answers are read
    beside, so that no batch waits for the one before it to be answered. Returns the first refusal, if
    any, and how late (ms) each message went against its due time."""
    sent_batches: asyncio.Queue[bool] = asyncio.Queue()  # True per batch sent, False once all are
    refusal: list[str] = []

    async def answers() -> None:
        while await sent_batches.get():
            answer = await channel.answer()
            if "error" in answer:
                refusal.append(str(answer["error"]))
                return

    reader = asyncio.ensure_future(answers())
    late_ms: list[float] = []
    t0, start, sent = time.perf_counter(), msgs[0].time, 0
    try:
        while sent < len(msgs) and not refusal:
            elapsed = time.perf_counter() - t0
            due = next((i for i in range(sent, len(msgs)) if (msgs[i].time - start) / speedup > elapsed), len(msgs))
            while sent < due and not refusal:
                batch = msgs[sent:min(due, sent + MAX_BATCH)]
                now = time.perf_counter()
                for msg in batch:
                    probe.mark("sensor", msg)
                    late_ms.append((now - t0 - (msg.time - start) / speedup) * 1e3)
                sent_batches.put_nowait(True)
                await channel.send({"label": LABEL, "messages": [track_dict(m) for m in batch]})
                sent += len(batch)
            if sent < len(msgs):
                await asyncio.sleep(max(0.001, t0 + (msgs[sent].time - start) / speedup - time.perf_counter()))
        sent_batches.put_nowait(False)
        async with asyncio.timeout(30):
            await reader
    finally:
        reader.cancel()
    return (refusal[0] if refusal else None), late_ms


Buckets = dict[str, dict[str, dict[float, float]]]  # party → stage → upper bound (s) → cumulative count


async def hop_times(nodes: dict[str, LoopbackNode]) -> Buckets:
    """Each node's gsomia_feed_hop_seconds buckets, scraped from its /metrics with its security officer's token."""
    found: Buckets = {}
    for party in CHAIN:
        node = nodes[party]
        context = ssl.create_default_context(cafile=str(node.root_certificate))
        async with httpx.AsyncClient(base_url=node.api_url, verify=context, timeout=10,
                                     headers={"authorization": f"Bearer {node.tokens['chief']}"}) as officer:
            answer = await officer.get("/metrics")
        stages: dict[str, dict[float, float]] = found.setdefault(party, {})
        if answer.status_code != 200:
            continue
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                if sample.name == "gsomia_feed_hop_seconds_bucket":
                    stages.setdefault(sample.labels["stage"], {})[float(sample.labels["le"])] = sample.value
    return found


def elapsed_hops(before: Buckets, after: Buckets) -> dict[str, dict[str, tuple[int, dict[float, float]]]]:
    """What each node counted between the two scrapes: per stage, how many and the cumulative buckets."""
    out: dict[str, dict[str, tuple[int, dict[float, float]]]] = {}
    for party, stages in after.items():
        for stage, buckets in stages.items():
            earlier = before.get(party, {}).get(stage, {})
            diff = {bound: count - earlier.get(bound, 0.0) for bound, count in buckets.items()}
            total = int(diff.get(float("inf"), 0))
            if total:
                out.setdefault(party, {})[stage] = (total, diff)
    return out


def quantile(buckets: dict[float, float], q: float) -> str:
    """The smallest bucket bound under which a fraction `q` of the observations fall (ms)."""
    total = buckets[float("inf")]
    bound = next(b for b in sorted(buckets) if buckets[b] >= q * total)
    return "∞" if bound == float("inf") else f"{bound * 1e3:g}"
