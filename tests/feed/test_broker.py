"""The in-process broker: per-subscriber gates, and a slow subscriber loses its oldest, counted."""

from __future__ import annotations

import asyncio

from gsomia.domain.tracks import EndOfTrack, Routed, TrackMessage
from gsomia.feed.broker import AllowAll, Delivery, LocalBroker
from gsomia.feed.wire import encode_message

from .helpers import make_label


def message(seq: int, stream: str = "KOR-L1") -> TrackMessage:
    return TrackMessage(stream, seq, "KOR", "radar", 1.0, 2.0, make_label(), EndOfTrack("x"))


class Counting:
    """A gate that admits one stream and counts how often it is asked."""

    def __init__(self, stream: str) -> None:
        self.stream, self.asked = stream, 0

    def allows(self, msg: Routed) -> bool:
        self.asked += 1
        return msg.stream == self.stream


def test_fan_out_with_per_subscriber_gates_and_bounded_queues() -> None:
    async def main() -> None:
        broker = LocalBroker()
        everyone = await broker.subscribe("all", AllowAll())
        only_l2 = await broker.subscribe("l2", Counting("KOR-L2"))
        slow = await broker.subscribe("slow", AllowAll(), maxsize=3)
        for seq in range(1, 6):
            for stream in ("KOR-L1", "KOR-L2"):
                msg = message(seq, stream)
                await broker.publish(Delivery(msg, encode_message(msg)))
        assert len(everyone.drain(100)) == 10
        assert [d.msg.seq for d in only_l2.drain(100)] == [1, 2, 3, 4, 5] and only_l2.refused == 5
        kept = slow.drain(100)
        assert [(d.msg.stream, d.msg.seq) for d in kept] == [("KOR-L2", 4), ("KOR-L1", 5), ("KOR-L2", 5)]
        assert slow.dropped == 7
        await broker.unsubscribe(everyone)
        await broker.publish(Delivery(message(6), encode_message(message(6))))
        assert everyone.drain(10) == [] and everyone.closed
        await broker.close()

    asyncio.run(main())
