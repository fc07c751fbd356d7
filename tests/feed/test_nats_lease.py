"""One feed process of a node pushes to the partners: the lease in JetStream that says which (feed/nats_lease.py).

Needs the NATS server at 127.0.0.1:4222 with JetStream (under CI=true an unreachable server fails, not skips).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats

from gsomia.feed.nats_lease import LinkLease
from gsomia.feed.served import LEASE_S, NodeFeed

from .test_nats_broker import NATS_URL, need_nats
from .test_nats_feed import STREAM, feed_process, on_nats, sensor_posts, until

__all__ = ["need_nats"]  # the autouse fixture: NATS must be reachable (or the test skipped outside CI)


@contextlib.asynccontextmanager
async def two_leases(ttl_s: float) -> AsyncIterator[tuple[LinkLease, LinkLease]]:
    """Two processes' leases on one node's bucket, each over its own connection."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    connections = [await nats.connect(NATS_URL) for _ in range(2)]
    try:
        a, b = [await LinkLease.open(nc.jetstream(), prefix, ttl_s=ttl_s, holder=name)
                for nc, name in zip(connections, ("A", "B"), strict=True)]
        yield a, b
    finally:
        with contextlib.suppress(Exception):
            await connections[0].jetstream().delete_key_value(f"GSOMIA_FEED_LINKS_{prefix}".replace("-", "_"))
        for nc in connections:
            await nc.close()


def test_one_process_holds_the_lease_and_another_takes_it_when_it_stops_renewing() -> None:
    async def scenario() -> None:
        async with two_leases(ttl_s=1.0) as (a, b):
            assert await a.hold() and not await b.hold()
            assert await a.hold() and not await b.hold()  # renewed: still A's
            assert await b.holder_now() == "A"
            await asyncio.sleep(1.6)  # A stops renewing (hung or killed): its entry expires
            assert await b.hold() and b.held
            assert not await a.hold() and not a.held  # A, coming back, finds it lost and stands by
            assert await a.holder_now() == "B"

    asyncio.run(scenario())


def test_a_released_lease_is_taken_at_once() -> None:
    async def scenario() -> None:
        async with two_leases(ttl_s=30.0) as (a, b):
            assert await a.hold()
            await a.release()
            assert await b.hold(), "free the moment A gave it up, not after 30 s"
            assert not await a.hold()

    asyncio.run(scenario())


def links_of(feed: NodeFeed) -> set[str]:
    return {link.url for link in feed.feed.links}


def test_of_two_feed_processes_one_pushes_to_the_partner_and_the_other_takes_over_when_it_stops(
        tmp_path: Path) -> None:
    """Both processes see every message of the node's streams; were both linked, JPN would get each stream twice.
    A takes the sensor's first post and pushes it to JPN; A stops; B, alone linked now, pushes the second."""
    nodes, _ = on_nats(tmp_path, ("KOR", "JPN"))
    spec = nodes["KOR"]

    async def scenario() -> None:
        async with feed_process(nodes["JPN"], tls=True) as jpn, contextlib.AsyncExitStack() as running_a:
            a = await running_a.enter_async_context(feed_process(spec, tls=True))
            await until(lambda: bool(links_of(a)), "A (first up) linked to JPN")
            async with feed_process(spec, tls=True) as b:
                assert a.lease is not None and b.lease is not None and b.shared is not None
                try:
                    await asyncio.sleep(LEASE_S / 2)  # B has tried the lease at least once
                    assert links_of(a) and not links_of(b)
                    assert await b.lease.holder_now() == a.lease.holder
                    assert await sensor_posts(a, spec, 5) == {STREAM: 5}
                    await until(lambda: jpn.feed.newest(STREAM) == 5, "the first post at JPN, from A")
                    await running_a.aclose()  # A stops: it gives the lease up, and B links within a third of LEASE_S
                    await until(lambda: bool(links_of(b)), "B linked to JPN after A stopped")
                    assert await b.lease.holder_now() == b.lease.holder
                    assert await sensor_posts(b, spec, 5) == {STREAM: 10}
                    await until(lambda: jpn.feed.newest(STREAM) == 10, "the second post at JPN, from B")
                    found, gone = jpn.feed.replay(STREAM, 1, None)
                    assert [s.seq for s in found] == list(range(1, 11)) and gone == []
                finally:
                    await b.shared.delete_stream()

    asyncio.run(scenario())


def test_a_hung_holder_loses_its_links_to_the_process_that_took_the_lease(tmp_path: Path) -> None:
    """A holder whose renewals stop (its loop hung, its broker link cut) for longer than the lease: the other process
    links, and the first, renewing again, finds the lease taken and drops its links."""
    spec = on_nats(tmp_path, ("KOR", "JPN"))[0]["KOR"]

    async def scenario() -> None:
        async with feed_process(spec, tls=True) as a, feed_process(spec, tls=True) as b:
            assert a.shared is not None and a._leading is not None
            try:
                await until(lambda: bool(links_of(a)) != bool(links_of(b)), "one of the two linked")
                holder, other = (a, b) if links_of(a) else (b, a)
                assert holder._leading is not None
                holder._leading.cancel()  # its renewals stop, its links run on: a process hung in the middle
                await until(lambda: bool(links_of(other)), "the other taking the lease over once it expired")
                assert holder.lease is not None
                holder._leading = asyncio.ensure_future(holder._lead_links(holder.lease))
                await until(lambda: not links_of(holder), "the hung holder dropping its links")
                assert links_of(other)
            finally:
                await a.shared.delete_stream()

    asyncio.run(scenario())
