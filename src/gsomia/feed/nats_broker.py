"""The `Broker` interface over NATS JetStream, for a node that runs as several processes.

Subjects, under a per-node prefix:
    <prefix>.t.<stream>        message frames, in sequence order
    <prefix>.l.<digest hex>    the label frame each digest names (published once, acknowledged)
    <prefix>.s                 empty markers, acknowledged: what a process published before one is stored

One JetStream stream captures `<prefix>.>`, so messages outlive a subscriber's restart for
`max_age`. Message frames are published without waiting for the server's acknowledgement (an ack
round trip per message would halve the rate); the label is acknowledged before the first message
naming it is sent, so a label is always stored before it is needed. Each message frame carries
`Nats-Msg-Id: <stream>:<seq>`: the server stores one message per stream number (within its duplicate
window), and a process taking a stream over reads the number it continues from off the subject's last
message (`last_seq`), one round trip per stream and batch.

Each process has one ordered push consumer, starting at new messages, that fans out to its subscribers
(one delivery from the server per process, not per subscriber); `follow(on_arrival)` lets the process take
every message, whichever process published it, into its own sequence tracker and replay buffer first. A
consumer that meets a label it does not know (another process published it) fetches it from the label
subject, so late joiners need no special path.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, RawStreamMsg, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from gsomia.feed.broker import Delivery, Gate, Subscription, subject_token
from gsomia.feed.errors import FeedError, UnknownLabel, WireError
from gsomia.feed.wire import LabelParser, WireDecoder, encode_label

log = logging.getLogger(__name__)
Arrival = Callable[[Delivery], None]
MSG_ID = "Nats-Msg-Id"


def node_prefix(node_id: str) -> str:
    """A node's subject prefix from its id: what a subject token may not hold becomes `_`."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", node_id)[:100] or "node"


class StreamTaken(FeedError):
    """Two processes numbered the same message of a stream at once: the server kept the other's."""


def _number(stream: str, stored: RawStreamMsg) -> int:
    number = (stored.headers or {}).get(MSG_ID, "").rpartition(":")[2]
    if not number.isdigit():
        raise WireError(f"stream {stream}'s last message on the broker has no sequence number")
    return int(number)


def _said(error: BaseException) -> str:
    return str(error) or type(error).__name__


async def _log_error(error: Exception) -> None:
    log.warning("feed broker: %s", _said(error))


class NatsBroker:
    def __init__(self, nc: Client, js: JetStreamContext, prefix: str, stream_name: str,
                 parse_label: LabelParser) -> None:
        self._nc, self._js = nc, js
        self._prefix, self._stream_name = prefix, stream_name
        self._parse_label = parse_label
        self._published_labels: set[bytes] = set()
        self._subs: list[Subscription] = []
        self._pending: dict[str, tuple[int, bytes]] = {}  # per stream, the newest published since the last settle
        self._consumer: Any = None  # this process's one ordered push consumer, fanning out to _subs
        self._on_arrival: Arrival | None = None
        self.decode_errors = 0

    @classmethod
    async def connect(cls, url: str, prefix: str, parse_label: LabelParser, *, max_age_s: float = 900.0,
                      memory: bool = True, connect_timeout: float = 2.0) -> NatsBroker:
        """Connected, with the prefix's JetStream stream made (or found); a FeedError within about
        `connect_timeout` (twice it at most: connecting, then the stream) if the server is unreachable or
        has no JetStream."""
        subject_token(prefix)
        seen: list[BaseException] = []  # what the client met while trying: the reason to give

        async def met(error: Exception) -> None:
            seen[:] = [error]  # the latest only: the callback stays for the connection's life
            await _log_error(error)

        try:
            nc = await asyncio.wait_for(nats.connect(url, connect_timeout=connect_timeout, max_reconnect_attempts=0,
                                                     allow_reconnect=False, error_cb=met), connect_timeout)
        except (TimeoutError, OSError, NatsError) as unreachable:
            reason = _said(seen[-1] if seen else unreachable)
            raise FeedError(f"feed broker {url} is unreachable within {connect_timeout} s: {reason}") from None
        # Once connected, a dropped connection is retried for a while rather than ending the feed at once.
        nc.options["allow_reconnect"], nc.options["max_reconnect_attempts"] = True, 30
        js = nc.jetstream()
        stream_name = f"GSOMIA_FEED_{prefix}".replace("-", "_")
        try:
            await asyncio.wait_for(js.add_stream(StreamConfig(
                name=stream_name, subjects=[f"{prefix}.>"], max_age=max_age_s,
                storage=StorageType.MEMORY if memory else StorageType.FILE,
            )), connect_timeout)
        except (TimeoutError, NatsError) as refused:
            await nc.close()
            raise FeedError(f"feed broker {url}: no JetStream stream {stream_name}: {_said(refused)}") from None
        return cls(nc, js, prefix, stream_name, parse_label)

    def _label_subject(self, digest: bytes) -> str:
        return f"{self._prefix}.l.{digest.hex()}"

    async def publish(self, delivery: Delivery) -> None:
        msg = delivery.msg
        if msg.digest not in self._published_labels:
            await self._js.publish(self._label_subject(msg.digest), encode_label(msg.label))
            self._published_labels.add(msg.digest)
        await self._nc.publish(self._stream_subject(msg.stream), delivery.frame,
                               headers={MSG_ID: f"{msg.stream}:{msg.seq}"})
        self._pending[msg.stream] = (msg.seq, delivery.frame)

    async def publish_many(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            await self.publish(delivery)

    def _stream_subject(self, stream: str) -> str:
        return f"{self._prefix}.t.{subject_token(stream)}"

    async def settle(self, timeout_s: float = 2.0) -> None:
        """What was published since the last settle is stored: a marker published after it is acknowledged (the
        server stores what one connection sends to one stream in order; a flush would say only that the server
        read it), then each stream's newest message is read back. FeedError if the server does not answer in
        time or holds less; StreamTaken if it holds another frame under that number (another process numbered
        the same message at the same moment, and the server kept the first)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            await self._js.publish(f"{self._prefix}.s", b"", timeout=timeout_s)
        except NatsError as unanswered:
            raise FeedError(f"the feed broker did not confirm what was published: {_said(unanswered)}") from None
        for stream, (seq, frame) in pending.items():
            stored = await self._last(stream)
            held = 0 if stored is None else _number(stream, stored)
            if held < seq:
                raise FeedError(f"the feed broker holds stream {stream} up to {held}, not its message {seq}")
            if stored is not None and held == seq and stored.data != frame:
                raise StreamTaken(f"stream {stream}'s message {seq} was numbered by another feed process at once")

    async def _last(self, stream: str) -> RawStreamMsg | None:
        try:
            return await self._js.get_last_msg(self._stream_name, self._stream_subject(stream))
        except NotFoundError:
            return None

    async def last_seq(self, stream: str) -> int:
        """The number of the stream's newest message the server holds (0 if none): where any process of
        this node continues the stream's numbering."""
        stored = await self._last(stream)
        return 0 if stored is None else _number(stream, stored)

    async def flush(self) -> None:
        await self._nc.flush()

    async def follow(self, on_arrival: Arrival | None = None) -> None:
        """Start this process's one consumer now (else at the first subscription). `on_arrival` sees every
        message of every process, in the stream's order, before any subscriber here is offered it."""
        if on_arrival is not None:
            self._on_arrival = on_arrival
        if self._consumer is not None:
            return
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
                if msg is None:
                    return
                delivery = Delivery(msg, raw.data)
                if self._on_arrival is not None:
                    self._on_arrival(delivery)
                for sub in self._subs:
                    sub.offer(delivery)

        self._consumer = await self._js.subscribe(
            f"{self._prefix}.t.>", cb=handle, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW,
            stream=self._stream_name,
        )

    async def subscribe(self, name: str, gate: Gate, maxsize: int = 100_000) -> Subscription:
        await self.follow()
        sub = Subscription(name, gate, maxsize)
        self._subs.append(sub)
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
        if subscription in self._subs:
            self._subs.remove(subscription)

    async def delete_stream(self) -> None:
        """For tests and teardown: remove this prefix's JetStream stream."""
        await self._js.delete_stream(self._stream_name)

    async def close(self) -> None:
        for sub in list(self._subs):
            await self.unsubscribe(sub)
        if self._consumer is not None:
            await self._consumer.unsubscribe()
            self._consumer = None
        await self._nc.drain()
