"""A sensor's posts through a node's feed, in process (`feed_broker` unset) and through NATS JetStream
(`feed_broker = "nats://127.0.0.1:4222"`), same run, same machine.

    python -m benchmarks.bench_feed_broker [--quick]

One KOR node, its feed served (plain WebSocket), one subscriber connected. The sensor's batches of five track
updates, numbered by the node, are posted one after the other through the feed's use case (what the HTTP route
and the feed protocol's posts call): the time to take a post (with NATS: numbered on from the broker's newest
message, and answered once JetStream has stored it), and the time from a post's start to its last message at
the subscriber.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from benchmarks.bench_federation import PASSPHRASE, percentile
from gsomia.config import load_settings, write_settings
from gsomia.crypto import PublicKeys, export_public
from gsomia.demo.loopback import create_federation
from gsomia.domain.labels import Label
from gsomia.feed.served import NodeFeed
from gsomia.feed.subscriber import FeedSubscriber, Update
from gsomia.services import feed_links
from gsomia.services.context import Actor
from gsomia.services.feed import publish
from gsomia.services.feed_posts import batch_from_dict
from gsomia.services.officials import authenticate
from gsomia.services.runtime import open_node

NATS_URL = "nats://127.0.0.1:4222"
LABEL = {"classification": "KOR:II", "releasable_to": ["KOR", "USA", "JPN"], "topics": ["dprk-missile"],
         "purpose": "missile warning"}
STREAM = "KOR-BENCH"
PER_POST = 5
WARM_UP = 20


def _messages() -> list[dict[str, Any]]:
    now = time.time()
    return [{"stream": STREAM, "sensor": "KOR-S1", "time": now, "stale": now + 600, "kind": "update",
             "position": {"lat": 39.0, "lon": 126.0 + i / 10, "alt_m": 1000.0 * i},
             "velocity": {"east": 2000.0, "north": 100.0, "up": 500.0}} for i in range(PER_POST)]


async def _run(base: Path, broker: str | None, posts: int) -> tuple[list[float], list[float]]:
    spec = create_federation(base, passphrase=PASSPHRASE.encode(), parties=("KOR",))["KOR"]
    settings = load_settings(spec.data)
    write_settings(settings.model_copy(update={"feed_broker": broker, "feed_port": 0,
                                               "feed_broker_prefix": f"bench-{uuid.uuid4().hex[:12]}"}))
    keys = PublicKeys.from_dict(export_public(spec.data))
    assert isinstance(keys.verify_key, Ed25519PublicKey)
    with open_node(spec.data, passphrase=PASSPHRASE.encode()) as node:
        feed = NodeFeed(node, server_context=None, client_context=None)
        await feed.start()
        arrived: dict[int, float] = {}
        schemes = node.catalog.schemes

        def seen(update: Update) -> None:
            arrived[update.msg.seq] = time.perf_counter()

        subscriber = FeedSubscriber(f"ws://127.0.0.1:{feed.port}", "KOR-analyst", keys.node, keys.verify_key,
                                    lambda data: Label.from_canonical(data, schemes), on_update=seen,
                                    headers={"Authorization": f"Bearer {spec.tokens['analyst']}"})
        task = asyncio.ensure_future(subscriber.run())
        actor = Actor(authenticate(node, spec.tokens["releaser"], via=feed_links.VIA), feed_links.VIA)
        taken: list[float] = []
        delivered: list[float] = []
        try:
            await asyncio.wait_for(subscriber.connected.wait(), 10)
            for n in range(WARM_UP + posts):
                batch = batch_from_dict(node, {"label": LABEL, "messages": _messages()})
                start = time.perf_counter()
                newest = (await publish(node, feed, actor, batch.label, batch.tracks))[STREAM]
                took = time.perf_counter() - start
                for _ in range(10_000):  # bounded: ten seconds
                    if newest in arrived:
                        break
                    await asyncio.sleep(0.001)
                if n >= WARM_UP:
                    taken.append(took)
                    delivered.append(arrived[newest] - start)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if feed.shared is not None:
                await feed.shared.delete_stream()
            await feed.close()
    return taken, delivered


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args, _ = parser.parse_known_args(argv)
    posts = 200 if args.quick else 1000
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, broker in (("local", None), ("nats", NATS_URL)):
            taken, delivered = asyncio.run(_run(Path(tmp) / name, broker, posts))
            for what, values in (("post", taken), ("to_subscriber", delivered)):
                for q in (50, 99):
                    figures[f"{name}_{what}_p{q}_ms"] = percentile(values, q / 100) * 1000
            print(f"feed broker {name:5}: {posts} posts of {PER_POST} track updates, one after the other: "
                  f"post p50 {figures[f'{name}_post_p50_ms']:.2f} ms p99 {figures[f'{name}_post_p99_ms']:.2f} ms; "
                  f"post start → subscriber p50 {figures[f'{name}_to_subscriber_p50_ms']:.2f} ms "
                  f"p99 {figures[f'{name}_to_subscriber_p99_ms']:.2f} ms")
    return figures


if __name__ == "__main__":
    main()
