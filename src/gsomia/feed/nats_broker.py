"""The `Broker` interface over NATS JetStream, for a node that runs as several processes.

Subjects, under a per-node prefix:
    <prefix>.t.<stream>        message frames, in sequence order
    <prefix>.l.<digest hex>    the label frame each digest names (published once, acknowledged)

One JetStream stream captures `<prefix>.>`, so messages outlive a subscriber's restart for
`max_age`. Message frames are published without waiting for the server's acknowledgement (an ack
round trip per message would halve the rate); the label is acknowledged before the first message
naming it is sent, so a label is always stored before it is needed. Subscribers are ordered
push consumers starting at new messages; one that meets a label it does not know (it joined after
the label went by) fetches it from the label subject, so late joiners need no special path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from gsomia.feed.broker import Delivery, Gate, Subscription, subject_token
from gsomia.feed.errors import FeedError, UnknownLabel, WireError
from gsomia.feed.wire import LabelParser, WireDecoder, encode_label


class NatsBroker:
    def __init__(self, nc: Client, js: JetStreamContext, prefix: str, stream_name: str,
                 parse_label: LabelParser) -> None:
        self._nc, self._js = nc, js
        self._prefix, self._stream_name = prefix, stream_name
        self._parse_label = parse_label
        self._published_labels: set[bytes] = set()
        self._subs: dict[Subscription, Any] = {}
        self.decode_errors = 0

    @classmethod
    async def connect(cls, url: str, prefix: str, parse_label: LabelParser, *, max_age_s: float = 900.0,
                      memory: bool = True, connect_timeout: float = 2.0) -> NatsBroker:
        subject_token(prefix)
        nc = await nats.connect(url, connect_timeout=connect_timeout, max_reconnect_attempts=3,
                                allow_reconnect=True)
        js = nc.jetstream()
        stream_name = f"GSOMIA_FEED_{prefix}".replace("-", "_")
        await js.add_stream(StreamConfig(
            name=stream_name, subjects=[f"{prefix}.>"], max_age=max_age_s,
            storage=StorageType.MEMORY if memory else StorageType.FILE,
        ))
        return cls(nc, js, prefix, stream_name, parse_label)

    def _label_subject(self, digest: bytes) -> str:
        return f"{self._prefix}.l.{digest.hex()}"

    async def publish(self, delivery: Delivery) -> None:
        msg = delivery.msg
        if msg.digest not in self._published_labels:
            await self._js.publish(self._label_subject(msg.digest), encode_label(msg.label))
            self._published_labels.add(msg.digest)
        await self._nc.publish(f"{self._prefix}.t.{subject_token(msg.stream)}", delivery.frame)

    async def publish_many(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            await self.publish(delivery)

    async def flush(self) -> None:
        await self._nc.flush()

    async def subscribe(self, name: str, gate: Gate, maxsize: int = 100_000) -> Subscription:
        sub = Subscription(name, gate, maxsize)
        decoder = WireDecoder(self._parse_label)
        lock = asyncio.Lock()  # a label fetch must not let later messages overtake

        async def handle(raw: Msg) -> None:
            async with lock:
                try:
                    try:
                        msg = decoder.decode(raw.data)
                    except UnknownLabel as unknown:
                        await self._fetch_label(decoder, unknown.digest)
                        msg = decoder.decode(raw.data)
                except FeedError:
                    self.decode_errors += 1  # counted; the sequence tracker will show the hole
                    return
                if msg is not None:
                    sub.offer(Delivery(msg, raw.data))

        self._subs[sub] = await self._js.subscribe(
            f"{self._prefix}.t.>", cb=handle, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW,
            stream=self._stream_name,
        )
        return sub

    async def _fetch_label(self, decoder: WireDecoder, digest: bytes) -> None:
        try:
            stored = await self._js.get_last_msg(self._stream_name, self._label_subject(digest))
        except NotFoundError:
            raise UnknownLabel(digest) from None
        if stored.data is None:
            raise WireError("stored label frame is empty")
        decoder.decode(stored.data)

    async def unsubscribe(self, subscription: Subscription) -> None:
        subscription.closed = True
        handle = self._subs.pop(subscription, None)
        if handle is not None:
            await handle.unsubscribe()

    async def delete_stream(self) -> None:
        """For tests and teardown: remove this prefix's JetStream stream."""
        await self._js.delete_stream(self._stream_name)

    async def close(self) -> None:
        for sub in list(self._subs):
            await self.unsubscribe(sub)
        await self._nc.drain()
