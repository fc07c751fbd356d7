"""A node configured with `feed_broker = "nats://…"`: its feed's sequence and fan-out go through NATS JetStream,
so several feed processes of one node share each stream, and losing one loses nothing of a stream.

Each "process" here is the node opened from its directory a second time, with its own NodeFeed on its own port
(what a second process with the same configuration is). Needs the NATS server at 127.0.0.1:4222 with JetStream;
under CI=true an unreachable server fails rather than skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tests.ci import in_ci
from tests.federation.harness import PASSPHRASE

from gsomia.config import load_settings, write_settings
from gsomia.crypto import PublicKeys, export_public
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.domain.labels import Label
from gsomia.feed.broker import Delivery
from gsomia.feed.errors import FeedError
from gsomia.feed.served import NodeFeed
from gsomia.feed.subscriber import FeedSubscriber, Update
from gsomia.node import NodeTLS
from gsomia.services import feed_links
from gsomia.services.context import Actor
from gsomia.services.errors import Conflict
from gsomia.services.feed import publish
from gsomia.services.feed_posts import batch_from_dict
from gsomia.services.officials import authenticate
from gsomia.services.runtime import open_node

from .served import LABEL, updates
from .test_nats_broker import NATS_URL, nats_reachable

STREAM = "KOR-S1-TRACK"


@pytest.fixture
def need_nats() -> None:
    if not nats_reachable():
        if in_ci():
            pytest.fail("NATS is unreachable at 127.0.0.1:4222 and CI is set: the NATS feed must be tested")
        pytest.skip("NATS unreachable at 127.0.0.1:4222 (CI unset)")


def kor_on_nats(base: Path, broker: str = NATS_URL) -> tuple[LoopbackNode, str]:
    """A KOR node whose configuration names the broker (and a prefix of its own, so runs never meet)."""
    nodes, prefix = on_nats(base, ("KOR",), broker)
    return nodes["KOR"], prefix


def on_nats(base: Path, parties: tuple[str, ...], broker: str = NATS_URL) -> tuple[dict[str, LoopbackNode], str]:
    """The parties' nodes (not started), KOR's feed linked to each other's and configured with the broker."""
    links = tuple(("KOR", party) for party in parties if party != "KOR")
    nodes = create_federation(base, passphrase=PASSPHRASE, parties=parties, feed_links=links)
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings = load_settings(nodes["KOR"].data)
    write_settings(settings.model_copy(update={"feed_broker": broker, "feed_broker_prefix": prefix,
                                               "feed_port": 0, "feed_broker_timeout_s": 2.0}))
    return nodes, prefix


@contextlib.asynccontextmanager
async def feed_process(spec: LoopbackNode, *, tls: bool = False) -> AsyncIterator[NodeFeed]:
    """One feed process of the node: the node opened from its directory, its feed started (plain WebSocket; with
    `tls`, its server and its links to partners on the node's TLS, as `gsomia serve` runs them)."""
    with open_node(spec.data, passphrase=PASSPHRASE) as node:
        contexts = NodeTLS.of(node, PASSPHRASE) if tls else None
        feed = NodeFeed(node, server_context=contexts.feed if contexts else None,
                        client_context=contexts.client if contexts else None)
        await feed.start()
        try:
            yield feed
        finally:
            await feed.close()


def subscriber_to(feed: NodeFeed, spec: LoopbackNode, who: str, seen: list[Update]) -> FeedSubscriber:
    keys = PublicKeys.from_dict(export_public(spec.data))
    assert isinstance(keys.verify_key, Ed25519PublicKey)
    schemes = feed.node.catalog.schemes
    return FeedSubscriber(f"ws://127.0.0.1:{feed.port}", f"KOR-{who}", keys.node, keys.verify_key,
                          lambda data: Label.from_canonical(data, schemes),
                          headers={"Authorization": f"Bearer {spec.tokens[who]}"}, on_update=seen.append)


async def sensor_posts(feed: NodeFeed, spec: LoopbackNode, count: int) -> dict[str, int]:
    """The sensor's batch, numbered by the node (the sensor leaves the numbers out), as its POST is taken."""
    node = feed.node
    actor = Actor(authenticate(node, spec.tokens["releaser"], via=feed_links.VIA), feed_links.VIA)
    batch = batch_from_dict(node, {"label": LABEL, "messages": updates(STREAM, count, numbered=False)})
    return await publish(node, feed, actor, batch.label, batch.tracks)


async def until(condition: object, what: str) -> None:
    for _ in range(1000):  # bounded: ten seconds at most
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def test_a_node_configured_with_nats_carries_a_stream_from_a_sensor_post_to_a_subscriber(
        tmp_path: Path, need_nats: None) -> None:
    spec, _ = kor_on_nats(tmp_path)

    async def scenario() -> None:
        async with feed_process(spec) as feed:
            assert feed.shared is not None and feed.feed.broker is feed.shared
            seen: list[Update] = []
            reader = subscriber_to(feed, spec, "analyst", seen)
            task = asyncio.ensure_future(reader.run())
            try:
                await asyncio.wait_for(reader.connected.wait(), 10)  # its JetStream consumer exists by then
                assert await sensor_posts(feed, spec, 5) == {STREAM: 5}
                assert await sensor_posts(feed, spec, 5) == {STREAM: 10}
                await until(lambda: len(seen) >= 10, "ten updates at the subscriber")
                assert [u.msg.seq for u in seen] == list(range(1, 11))
                assert seen[0].msg.label.classification.code == "II"
                assert await feed.shared.last_seq(STREAM) == 10  # the broker holds the stream
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await feed.shared.delete_stream()

    asyncio.run(scenario())


def test_losing_one_of_two_feed_processes_loses_or_reorders_nothing_of_a_stream(
        tmp_path: Path, need_nats: None) -> None:
    """Process A takes the sensor's posts; a subscriber is connected to process B. A stops mid-stream; the sensor
    posts to B, which numbers on from A's last message. The subscriber sees 1..30, in order, once each."""
    spec, _ = kor_on_nats(tmp_path)

    async def scenario() -> None:
        async with feed_process(spec) as b:
            seen: list[Update] = []
            reader = subscriber_to(b, spec, "analyst", seen)
            task = asyncio.ensure_future(reader.run())
            try:
                await asyncio.wait_for(reader.connected.wait(), 10)
                async with feed_process(spec) as a:
                    assert a.port != b.port
                    for newest in (5, 10, 15):
                        assert await sensor_posts(a, spec, 5) == {STREAM: newest}
                    # A is stopped here, with the stream in flight. B took A's messages from the broker as they came.
                await until(lambda: b.next_seq(STREAM) == 16, "B numbering on from A's last message")
                held, missing = b.feed.buffer.replay(STREAM, 1, 15)
                assert [m.seq for m in held] == list(range(1, 16)) and missing == 0  # B can replay A's part
                for newest in (20, 25, 30):
                    assert await sensor_posts(b, spec, 5) == {STREAM: newest}
                await until(lambda: len(seen) >= 30, "thirty updates at the subscriber")
                await asyncio.sleep(0.2)  # a duplicate, if any were coming, would arrive now
                assert [u.msg.seq for u in seen] == list(range(1, 31))  # every one, in order, once
                assert not any(u.late for u in seen)
                assert reader.tracker.missing(STREAM) == [] and reader.tracker.duplicates == 0
                assert b.shared is not None and await b.shared.last_seq(STREAM) == 30
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                if b.shared is not None:
                    await b.shared.delete_stream()

    asyncio.run(scenario())


def test_an_unreachable_feed_broker_stops_the_feed_with_a_clear_error(tmp_path: Path) -> None:
    spec, _ = kor_on_nats(tmp_path, broker="nats://127.0.0.1:1")

    async def scenario() -> None:
        with open_node(spec.data, passphrase=PASSPHRASE) as node:
            feed = NodeFeed(node, server_context=None, client_context=None)
            with pytest.raises(FeedError, match=r"feed broker nats://127\.0\.0\.1:1 is unreachable within 2.0 s: "):
                await asyncio.wait_for(feed.start(), 10)
            assert feed.port is None  # nothing was served

    asyncio.run(scenario())


def test_a_process_started_after_the_stream_began_numbers_on_from_the_broker(tmp_path: Path, need_nats: None) -> None:
    """B starts after A took 1..15 (its consumer starts at new messages, so it never saw them): the sensor's next
    post to B is numbered from the broker's newest message of the stream, not from 1."""
    spec, _ = kor_on_nats(tmp_path)

    async def scenario() -> None:
        async with feed_process(spec) as a:
            try:
                for newest in (5, 10, 15):
                    assert await sensor_posts(a, spec, 5) == {STREAM: newest}
                async with feed_process(spec) as b:
                    seen: list[Update] = []
                    reader = subscriber_to(b, spec, "analyst", seen)
                    task = asyncio.ensure_future(reader.run())
                    try:
                        await asyncio.wait_for(reader.connected.wait(), 10)
                        assert await sensor_posts(b, spec, 5) == {STREAM: 20}
                        await until(lambda: len(seen) >= 5, "B's five updates at its subscriber")
                        assert [u.msg.seq for u in seen] == list(range(16, 21))
                    finally:
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                # A, still running, took B's messages from the broker: it numbers on from them.
                await until(lambda: a.next_seq(STREAM) == 21, "A numbering on from B's last message")
                assert await sensor_posts(a, spec, 5) == {STREAM: 25}
            finally:
                assert a.shared is not None
                await a.shared.delete_stream()

    asyncio.run(scenario())


def test_two_processes_numbering_one_stream_at_once_never_duplicate_or_reorder_it(
        tmp_path: Path, need_nats: None) -> None:
    """One sensor's posts spread over two processes at the same instant: each post is stored whole or not at all;
    one numbered from where the other ended, or the one stored second hears a conflict (409) and nothing of it
    is kept, and the subscriber sees each number once, in order."""
    spec, _ = kor_on_nats(tmp_path)

    async def scenario() -> None:
        async with feed_process(spec) as b:
            seen: list[Update] = []
            reader = subscriber_to(b, spec, "analyst", seen)
            task = asyncio.ensure_future(reader.run())
            try:
                await asyncio.wait_for(reader.connected.wait(), 10)
                async with feed_process(spec) as a:
                    outcomes = await asyncio.gather(sensor_posts(a, spec, 5), sensor_posts(b, spec, 5),
                                                    return_exceptions=True)
                    taken = [o for o in outcomes if isinstance(o, dict)]
                    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
                    assert len(taken) + len(conflicts) == 2, outcomes  # nothing else went wrong
                    # Numbered one after the other (10), or both from 1 and one of them refused.
                    assert sorted(o[STREAM] for o in taken) in ([5, 10], [5]), outcomes
                    newest = max(o[STREAM] for o in taken)
                    assert (newest == 10) == (not conflicts)
                await until(lambda: len(seen) >= newest, "the stream's updates at the subscriber")
                await asyncio.sleep(0.2)  # a duplicate, if any were coming, would arrive now
                assert [u.msg.seq for u in seen] == list(range(1, newest + 1))
                assert reader.tracker.duplicates == 0
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                if b.shared is not None:
                    await b.shared.delete_stream()

    asyncio.run(scenario())


def test_a_post_numbered_before_the_previous_one_came_back_from_the_broker_loses_none_of_it(
        tmp_path: Path, need_nats: None) -> None:
    """The broker hands a process its own post back a moment after confirming it, and the next post may be numbered
    in that moment (a CI run met it: the subscriber never got the first post, whose label the process did not know).
    Here the process's arrivals are held until both posts are numbered and stored, then let in: every message is
    taken, buffered for replay and offered, its label known; a message let in twice is offered once."""
    spec, _ = kor_on_nats(tmp_path)

    async def scenario() -> None:
        async with feed_process(spec) as a:
            assert a.shared is not None
            held: list[Delivery] = []

            def hold(delivery: Delivery) -> bool:
                held.append(delivery)
                return False

            try:
                await a.shared.follow(hold)
                assert await sensor_posts(a, spec, 5) == {STREAM: 5}
                assert await sensor_posts(a, spec, 5) == {STREAM: 10}
                await until(lambda: len(held) == 10, "both posts back from the broker")
                assert [a._arrived(d) for d in held] == [True] * 10
                assert [a._arrived(d) for d in held[:2]] == [False, False]  # duplicates: offered to nobody
                found, gone = a.feed.replay(STREAM, 1, None)
                assert [s.seq for s in found] == list(range(1, 11)) and gone == []
                assert all(a.feed.label_frame(s.digest) for s in found)
                assert a.next_seq(STREAM) == 11
            finally:
                await a.shared.delete_stream()

    asyncio.run(scenario())


def test_posts_on_one_stream_to_one_process_at_once_take_their_turns(tmp_path: Path, need_nats: None) -> None:
    """Within one process, concurrent posts on one stream are numbered one after the other and all stored:
    only another process numbering the stream at the same moment makes a conflict."""
    spec, _ = kor_on_nats(tmp_path)

    async def scenario() -> None:
        async with feed_process(spec) as a:
            try:
                outcomes = await asyncio.gather(*(sensor_posts(a, spec, 5) for _ in range(4)))
                assert sorted(o[STREAM] for o in outcomes) == [5, 10, 15, 20]
                assert a.shared is not None and await a.shared.last_seq(STREAM) == 20
                await until(lambda: a.next_seq(STREAM) == 21, "A taking its own messages back from the broker")
            finally:
                if a.shared is not None:
                    await a.shared.delete_stream()

    asyncio.run(scenario())


def test_a_feed_process_killed_mid_stream_loses_nothing_at_a_subscriber_of_another(
        tmp_path: Path, need_nats: None) -> None:
    """Process A is a real process posting the sensor's stream; it is killed (SIGKILL) mid-stream, perhaps in the
    middle of a post; the sensor goes on posting to process B. B's subscriber sees 1..N, in order, once each."""
    spec, _ = kor_on_nats(tmp_path)
    root = Path(__file__).resolve().parents[2]

    async def scenario() -> None:
        async with feed_process(spec) as b:
            seen: list[Update] = []
            reader = subscriber_to(b, spec, "analyst", seen)
            task = asyncio.ensure_future(reader.run())
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.feed.nats_feed_process", str(spec.data), spec.tokens["releaser"], STREAM,
                cwd=root, stdout=asyncio.subprocess.PIPE)
            try:
                await asyncio.wait_for(reader.connected.wait(), 10)
                assert process.stdout is not None
                acknowledged = 0
                while acknowledged < 50:  # ten posts taken by A
                    line = await asyncio.wait_for(process.stdout.readline(), 30)
                    assert line, "the feed process ended on its own"
                    acknowledged = int(line)
                process.send_signal(signal.SIGKILL)
                await process.wait()
                after = [await sensor_posts(b, spec, 5) for _ in range(3)]
                newest = after[-1][STREAM]
                assert newest >= acknowledged + 15  # B numbered on after everything A had been answered for
                await until(lambda: bool(seen) and seen[-1].msg.seq == newest, "the stream's newest at the subscriber")
                await asyncio.sleep(0.2)  # a duplicate, if any were coming, would arrive now
                assert [u.msg.seq for u in seen] == list(range(1, newest + 1))  # every one, in order, once
                assert reader.tracker.missing(STREAM) == [] and reader.tracker.duplicates == 0
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                if b.shared is not None:
                    await b.shared.delete_stream()

    asyncio.run(scenario())


def test_serve_with_an_unreachable_feed_broker_exits_saying_so(tmp_path: Path) -> None:
    spec, _ = kor_on_nats(tmp_path, broker="nats://127.0.0.1:1")
    env = {**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode()}
    done = subprocess.run([sys.executable, "-m", "gsomia.cli", "serve", "--data", str(spec.data)], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "feed broker nats://127.0.0.1:1 is unreachable" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
