"""A feed process of its own, for the failover test: `python -m tests.feed.nats_feed_process DATA TOKEN STREAM`.

It opens the node in DATA (configured with a feed broker), serves its feed, and posts five track updates at a
time to STREAM as the official whose token is TOKEN, printing the stream's newest number once each post is taken,
until it is killed (bounded: 10,000 posts).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.federation.harness import PASSPHRASE

from gsomia.feed.served import NodeFeed
from gsomia.services import feed_links
from gsomia.services.context import Actor
from gsomia.services.feed import publish
from gsomia.services.feed_posts import batch_from_dict
from gsomia.services.officials import authenticate
from gsomia.services.runtime import open_node

from .served import LABEL, updates


async def main(data: Path, token: str, stream: str) -> None:
    with open_node(data, passphrase=PASSPHRASE) as node:
        feed = NodeFeed(node, server_context=None, client_context=None)
        await feed.start()
        actor = Actor(authenticate(node, token, via=feed_links.VIA), feed_links.VIA)
        for _ in range(10_000):
            batch = batch_from_dict(node, {"label": LABEL, "messages": updates(stream, 5, numbered=False)})
            newest = await publish(node, feed, actor, batch.label, batch.tracks)
            print(newest[stream], flush=True)
            await asyncio.sleep(0)  # no pause: a kill may land in the middle of a post


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
