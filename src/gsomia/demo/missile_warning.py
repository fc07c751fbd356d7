"""The demo's last step: a simulated launch streamed through the three running `gsomia serve` nodes.

KOR's sensor posts batches to KOR's `/v1/feed/tracks`; KOR releases the stream to the US hub, which
relays it to JPN under KOR's standing consent (T5). A watch officer's subscriber on each node (each
reading with its own token, R7.2) stamps every message as it arrives there, so the hops' latencies are
the differences: sensor → KOR (HTTP ingest), KOR → USA and USA → JPN (the feed links), end to end.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timezone

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.crypto import PublicKeys, export_public
from gsomia.data import load_catalog
from gsomia.demo.loopback import LoopbackNode
from gsomia.domain.labels import Label
from gsomia.domain.schemes import Classification
from gsomia.domain.tracks import ImpactPrediction, LaunchEvent
from gsomia.feed.pipeline import LatencyProbe, percentiles
from gsomia.feed.subscriber import FeedSubscriber, Update
from gsomia.feed.trajectory import TrackSource, ballistic_track, scenario_for_seed
from gsomia.services.feed_posts import track_dict

CHAIN = ("KOR", "USA", "JPN")
MAX_BATCH = 500  # messages per POST (the API takes up to 1,000)
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
                          headers={"Authorization": f"Bearer {node.tokens['analyst']}"}, on_update=on_update)


async def stream_launch(nodes: dict[str, LoopbackNode], *, seed: int = 3, updates_per_second: float = 20.0,
                        speedup: float = 100.0, say: Callable[[str], None] = print) -> bool:
    """Post one simulated launch to KOR at `speedup` × real time; True if all of it reached JPN, in order."""
    probe = LatencyProbe()
    order: list[int] = []

    def stamp(party: str) -> Callable[[Update], None]:
        def mark(update: Update) -> None:
            probe.mark(party, update.msg)
            if party == "JPN":
                order.append(update.msg.seq)
        return mark

    watchers = {p: watch_officer(nodes[p], stamp(p)) for p in CHAIN}
    tasks = [asyncio.ensure_future(w.run()) for w in watchers.values()]
    kor = nodes["KOR"]
    label = Label("KOR", "KOR", Classification("KOR", "II"), frozenset(CHAIN), frozenset({"dprk-missile"}),
                  "missile warning", datetime.now(timezone.utc))
    stream = f"KOR-DEMO-{seed}-{int(time.time())}"
    msgs = list(ballistic_track(scenario_for_seed(seed), TrackSource(label, stream, rate_hz=updates_per_second),
                                time.time(), seed=seed))
    context = ssl.create_default_context(cafile=str(kor.root_certificate))
    try:
        async with asyncio.timeout(15):
            for watcher in watchers.values():
                await watcher.connected.wait()
        async with httpx.AsyncClient(base_url=kor.api_url, verify=context, timeout=20,
                                     headers={"authorization": f"Bearer {kor.tokens['releaser']}"}) as sensor:
            t0, start, sent = time.perf_counter(), msgs[0].time, 0
            while sent < len(msgs):
                elapsed = (time.perf_counter() - t0) * speedup
                due = next((i for i in range(sent, len(msgs)) if msgs[i].time - start > elapsed), len(msgs))
                if due == sent:
                    await asyncio.sleep(max(0.0, (msgs[sent].time - start - elapsed) / speedup))
                    continue
                batch = msgs[sent:min(due, sent + MAX_BATCH)]
                for msg in batch:
                    probe.mark("sensor", msg)
                answer = await sensor.post("/v1/feed/tracks", json={"label": LABEL,
                                                                     "messages": [track_dict(m) for m in batch]})
                if answer.status_code != 200:
                    say(f"KOR refused the sensor's batch: HTTP {answer.status_code} {answer.text}")
                    return False
                sent += len(batch)
        async with asyncio.timeout(30):
            while len(probe.stamps["JPN"]) < len(msgs):
                await asyncio.sleep(0.01)
    except TimeoutError:
        say(f"only {len(probe.stamps['JPN'])}/{len(msgs)} messages reached JPN in time")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    launch = next(m.body for m in msgs if isinstance(m.body, LaunchEvent))
    impact = [m.body for m in msgs if isinstance(m.body, ImpactPrediction)][-1]
    say(f"{len(probe.stamps['JPN'])}/{len(msgs)} messages reached JPN's watch officer through the running nodes"
        f" (KOR → USA hub → JPN), sent at {speedup:g}× real time")
    say(f"launch reported at {launch.point.lat:.2f}N {launch.point.lon:.2f}E; last impact prediction"
        f" {impact.point.lat:.2f}N {impact.point.lon:.2f}E ± {impact.error.ce_m / 1000:.1f} km")
    for start_point, end_point in HOPS:
        stats = percentiles(probe.hop_ms(start_point, end_point))
        say(f"  {start_point + '→' + end_point:12s} p50 {stats['p50']:.2f} ms  p99 {stats['p99']:.2f} ms"
            f"  (n={stats['n']:.0f})")
    return order == [m.seq for m in msgs]
