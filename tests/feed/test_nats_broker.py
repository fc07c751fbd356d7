"""The NATS JetStream backend behind the same Broker interface: round trip, gate, late joiner.

Needs the NATS server at 127.0.0.1:4222 with JetStream. Skipped only when it is unreachable and CI
is unset; under CI=true an unreachable server is a failure, not a skip.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import pytest
from tests.ci import in_ci

from gsomia.domain.catalog import Catalog
from gsomia.domain.tracks import EndOfTrack, Routed, TrackMessage
from gsomia.feed.broker import AllowAll, Delivery
from gsomia.feed.errors import FeedError
from gsomia.feed.nats_broker import NatsBroker
from gsomia.feed.wire import LabelParser, encode_message

from .helpers import make_label

NATS_URL = os.environ.get("GSOMIA_NATS_URL", "nats://127.0.0.1:4222")


def nats_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def need_nats() -> None:
    if not nats_reachable():
        if in_ci():
            pytest.fail("NATS is unreachable at 127.0.0.1:4222 and CI is set: the NATS backend must be tested")
        pytest.skip("NATS unreachable at 127.0.0.1:4222 (CI unset)")


def message(seq: int, stream: str = "KOR-N1", classification: str = "II") -> TrackMessage:
    return TrackMessage(stream, seq, "KOR", "radar", 1.0, 2.0, make_label(classification), EndOfTrack(f"m{seq}"))


class OnlySecretOrBelow:
    def allows(self, msg: Routed) -> bool:
        return msg.label.classification.code != "I"


def test_round_trip_gate_and_late_joiner(parse_label: LabelParser, catalog: Catalog) -> None:
    async def main() -> None:
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        broker = await NatsBroker.connect(NATS_URL, prefix, parse_label)
        try:
            everyone = await broker.subscribe("all", AllowAll())
            limited = await broker.subscribe("limited", OnlySecretOrBelow())
            for seq in range(1, 21):
                await broker.publish(Delivery(message(seq), encode_message(message(seq))))
            top = message(21, classification="I")
            await broker.publish(Delivery(top, encode_message(top)))
            await broker.flush()
            got = [await asyncio.wait_for(everyone.get(), 10) for _ in range(21)]
            assert [d.msg.seq for d in got] == list(range(1, 22))
            assert got[0].msg == message(1) and got[0].msg.label == make_label()
            limited_seqs = [(await asyncio.wait_for(limited.get(), 10)).msg.seq for _ in range(20)]
            assert limited_seqs == list(range(1, 21))
            for _ in range(100):  # bounded: the refused one has been offered
                if limited.refused == 1:
                    break
                await asyncio.sleep(0.01)
            assert limited.refused == 1

            # Another process joining after the label went by fetches it from its label subject.
            other = await NatsBroker.connect(NATS_URL, prefix, parse_label)
            try:
                late = await other.subscribe("late", AllowAll())
                await broker.publish(Delivery(message(22), encode_message(message(22))))
                await broker.flush()
                assert (await asyncio.wait_for(late.get(), 10)).msg == message(22)
                assert (await asyncio.wait_for(everyone.get(), 10)).msg.seq == 22
                assert broker.decode_errors == 0 and other.decode_errors == 0
            finally:
                await other.close()
        finally:
            await broker.delete_stream()
            await broker.close()

    asyncio.run(main())


def test_stream_ids_that_would_change_the_subject_are_refused(parse_label: LabelParser) -> None:
    async def main() -> None:
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        broker = await NatsBroker.connect(NATS_URL, prefix, parse_label)
        try:
            bad = message(1, stream="KOR.>")
            with pytest.raises(FeedError):
                await broker.publish(Delivery(bad, encode_message(bad)))
        finally:
            await broker.delete_stream()
            await broker.close()

    asyncio.run(main())


def test_a_node_runs_on_the_nats_broker(parse_label: LabelParser, catalog: Catalog) -> None:
    """Sensor → KOR node whose broker is NATS → a KOR subscriber pulling over WebSocket."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gsomia.domain.officials import Role
    from gsomia.feed.node import FeedNode
    from gsomia.feed.peers import Peer
    from gsomia.feed.subscriber import FeedSubscriber

    from .helpers import official

    async def main() -> None:
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        broker = await NatsBroker.connect(NATS_URL, prefix, parse_label)
        sensor_key, node_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        reader = official("KOR", "II", Role.READER, ident="kor-watch")
        sensor = FeedNode("KOR", "KOR-sensor-1", sensor_key, catalog, official("KOR", "I", Role.NODE))
        node = FeedNode("KOR", "KOR-node", node_key, catalog, official("KOR", "I", Role.NODE),
                        {"KOR-sensor-1": Peer("KOR-sensor-1", "KOR", sensor_key.public_key())},
                        broker=broker, readers={reader.id: reader})
        port = await node.serve()
        link = sensor.link_to(f"ws://127.0.0.1:{port}", AllowAll())
        subscriber = FeedSubscriber(f"ws://127.0.0.1:{port}", reader.id, "KOR-node", node_key.public_key(),
                                    parse_label)
        task = asyncio.ensure_future(subscriber.run())
        try:
            await asyncio.wait_for(link.connected.wait(), 10)
            await asyncio.wait_for(subscriber.connected.wait(), 10)  # its NATS consumer exists by then
            for seq in range(1, 11):
                await sensor.originate(message(seq, stream="KOR-NN"))
            got = [await asyncio.wait_for(subscriber.updates.get(), 10) for _ in range(10)]
            assert [u.msg.seq for u in got] == list(range(1, 11))
            assert got[0].msg.label == make_label()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sensor.close()
            await broker.delete_stream()
            await node.close()

    asyncio.run(main())
