"""The `Broker` interface over NATS JetStream, for a node that runs as several processes.

Subjects, under a per-node prefix:
    <prefix>.t.<stream>        message frames (one per message, or a post's together), in sequence order
    <prefix>.l.<digest hex>    the label frame each digest names (published once, acknowledged)

One JetStream stream captures `<prefix>.>`, so messages outlive a subscriber's restart for
`max_age`. The label is acknowledged before the first message naming it is sent, so a label is always
stored before it is needed.

Two ways in:
- What this node's own sensors post (`stage`, then `store_staged` once the post is numbered): a post's
  messages of one stream go to the server as one JetStream message (a CBOR array of frames, header
  `Gsomia-Frames`), published on the condition that the stream's subject still ends where this process
  read it (`Nats-Expected-Last-Subject-Sequence`, read by `last_seq` before numbering). So a post is
  stored whole or not at all (one past MAX_POSTED_BYTES goes in runs, each of them whole): two processes
  numbering one stream at the same moment (one sensor's posts spread over both) cannot both store a message
  under one number; the one that comes second is refused (`StreamTaken`) and nothing of its post is kept.
  One acknowledged round trip per post and stream.
- What a partner's node sent (`publish`, `publish_many`): one frame per message, published without waiting
  for the server's acknowledgement, each with `Nats-Msg-Id: <stream>:<seq>`, so that the server keeps one
  copy of a number when several processes relay the same partner stream.
A process taking a stream over reads the number it continues from off the subject's last message
(`last_seq`; its `Nats-Msg-Id` names the stream and the number, or the first and last numbers it holds).

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

import cbor2
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, RawStreamMsg, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from gsomia.feed.broker import Delivery, Gate, Subscription, subject_token
from gsomia.feed.errors import FeedError, UnknownLabel, WireError
from gsomia.feed.nats_lease import LinkLease
from gsomia.feed.wire import LabelParser, WireDecoder, encode_label

log = logging.getLogger(__name__)
Arrival = Callable[[Delivery], bool]  # False: a duplicate, offered to no subscriber
MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
FRAMES = "Gsomia-Frames"  # a message holding a post's frames of one stream, as a CBOR array of byte strings
WRONG_LAST_SEQUENCE = 10071  # JetStream's error code when the subject moved on since it was read
MAX_POSTED_BYTES = 256 * 1024  # a post's frames per JetStream message (the server's max_payload is 1 MiB)
MAX_POSTED_FRAMES = 10_000


def node_prefix(node_id: str) -> str:
    """A node's subject prefix from its id: what a subject token may not hold becomes `_`."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", node_id)[:100] or "node"


class StreamTaken(FeedError):
    """Two processes numbered the same message of a stream at once: the server kept the other's."""


def _number(stream: str, stored: RawStreamMsg) -> int:
    """The newest number a stored message holds: `<stream>:<seq>`, or `<stream>:<first>-<last>`."""
    number = (stored.headers or {}).get(MSG_ID, "").rpartition(":")[2].rpartition("-")[2]
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
        self._staged: dict[str, list[Delivery]] = {}  # per stream, a post's messages not yet stored
        self._read_at: dict[str, int] = {}  # per stream, the subject's last JetStream sequence as last read
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

    async def _publish_label(self, msg: Any) -> None:
        if msg.digest not in self._published_labels:
            await self._js.publish(self._label_subject(msg.digest), encode_label(msg.label))
            self._published_labels.add(msg.digest)

    async def publish(self, delivery: Delivery) -> None:
        """A message a partner's node sent: published now (deduplicated by its number, not acknowledged)."""
        msg = delivery.msg
        await self._publish_label(msg)
        await self._nc.publish(self._stream_subject(msg.stream), delivery.frame,
                               headers={MSG_ID: f"{msg.stream}:{msg.seq}"})

    async def publish_many(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            await self.publish(delivery)

    def _stream_subject(self, stream: str) -> str:
        return f"{self._prefix}.t.{subject_token(stream)}"

    async def stage(self, delivery: Delivery) -> None:
        """A message this node's sensor posted, numbered here: held until `store_staged` stores the post."""
        msg = delivery.msg
        self._stream_subject(msg.stream)  # a stream id that would change the subject is refused now
        await self._publish_label(msg)
        self._staged.setdefault(msg.stream, []).append(delivery)

    def staged_next(self, stream: str) -> int:
        """The number after the newest staged on `stream` (0 if none is staged)."""
        staged = self._staged.get(stream)
        return staged[-1].msg.seq + 1 if staged else 0

    def drop_staged(self, streams: Sequence[str]) -> None:
        for stream in streams:
            self._staged.pop(stream, None)
            self._read_at.pop(stream, None)

    async def store_staged(self, streams: Sequence[str], timeout_s: float = 2.0) -> None:
        """Store what was staged on `streams` (one post's), each stream's messages on the condition that its subject
        ends where `last_seq` read it (read now if it was not): stored whole, or StreamTaken and nothing stored
        if another process stored a message on it since; FeedError if the server does not answer in time."""
        for stream in streams:
            staged, read_at = self._staged.pop(stream, []), self._read_at.pop(stream, None)
            if not staged:
                continue
            if read_at is None:
                stored = await self._last(stream)
                read_at = 0 if stored is None else stored.seq or 0
            for chunk in _chunks(staged):
                first, last = chunk[0].msg.seq, chunk[-1].msg.seq
                headers = {MSG_ID: f"{stream}:{first}-{last}", EXPECTED_LAST: str(read_at), FRAMES: str(len(chunk))}
                try:
                    ack = await self._js.publish(self._stream_subject(stream), cbor2.dumps([d.frame for d in chunk]),
                                                 timeout=timeout_s, headers=headers)
                except APIError as refused:
                    if refused.err_code == WRONG_LAST_SEQUENCE:
                        raise StreamTaken(f"stream {stream} was numbered on by another feed process meanwhile"
                                          f" (its messages {first}-{last} were not stored)") from None
                    raise FeedError(f"the feed broker refused stream {stream}'s messages: {_said(refused)}") from None
                except (TimeoutError, NatsError) as unanswered:
                    raise FeedError(f"the feed broker did not confirm stream {stream}'s messages:"
                                    f" {_said(unanswered)}") from None
                if ack.duplicate:
                    raise StreamTaken(f"stream {stream}'s messages {first}-{last} were stored already by another"
                                      " feed process")
                read_at = ack.seq

    async def _last(self, stream: str) -> RawStreamMsg | None:
        try:
            return await self._js.get_last_msg(self._stream_name, self._stream_subject(stream))
        except NotFoundError:
            return None
        except (TimeoutError, NatsError) as unanswered:
            raise FeedError(f"the feed broker did not say where stream {stream} ends: {_said(unanswered)}") from None

    async def last_seq(self, stream: str) -> int:
        """The number of the stream's newest message the server holds (0 if none): where any process of
        this node continues the stream's numbering. What this process stages on the stream next is stored
        only if nothing came after it (`store_staged`)."""
        stored = await self._last(stream)
        self._read_at[stream] = 0 if stored is None else stored.seq or 0
        return 0 if stored is None else _number(stream, stored)

    async def link_lease(self, ttl_s: float = 3.0) -> LinkLease:
        """The lease that says which of the node's feed processes pushes to the partners (feed/nats_lease.py)."""
        return await LinkLease.open(self._js, self._prefix, ttl_s=ttl_s)

    async def flush(self) -> None:
        await self._nc.flush()

    async def follow(self, on_arrival: Arrival | None = None) -> None:
        """Start this process's one consumer now (else at the first subscription). `on_arrival` sees every
        message of every process, in the stream's order, before any subscriber here is offered it; what it
        answers False to (a duplicate) no subscriber is offered."""
        if on_arrival is not None:
            self._on_arrival = on_arrival
        if self._consumer is not None:
            return
        decoder = WireDecoder(self._parse_label)
        lock = asyncio.Lock()  # a label fetch must not let later messages overtake

        async def handle(raw: Msg) -> None:
            async with lock:
                try:
                    frames = _frames(raw)
                except FeedError:
                    self.decode_errors += 1
                    return
                for frame in frames:
                    try:
                        try:
                            msg = decoder.decode(frame)
                        except UnknownLabel as unknown:
                            await self._fetch_label(decoder, unknown.digest)
                            msg = decoder.decode(frame)
                    except FeedError:
                        self.decode_errors += 1  # counted; the sequence tracker will show the hole
                        continue
                    if msg is None:
                        continue
                    delivery = Delivery(msg, frame)
                    if self._on_arrival is not None and not self._on_arrival(delivery):
                        continue
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


def _chunks(staged: list[Delivery]) -> list[list[Delivery]]:
    """A post's messages of one stream in runs of at most MAX_POSTED_BYTES (one message each, at least)."""
    chunks: list[list[Delivery]] = [[]]
    size = 0
    for delivery in staged:
        if chunks[-1] and (size + len(delivery.frame) > MAX_POSTED_BYTES or len(chunks[-1]) >= MAX_POSTED_FRAMES):
            chunks.append([])
            size = 0
        chunks[-1].append(delivery)
        size += len(delivery.frame)
    return chunks


def _frames(raw: Msg) -> list[bytes]:
    """The frames a stored message holds: itself, or (`Gsomia-Frames`) the post's frames it carries."""
    count = (raw.headers or {}).get(FRAMES)
    if count is None:
        return [raw.data]
    if not count.isdigit() or not 0 < int(count) <= MAX_POSTED_FRAMES:
        raise WireError("a stored post's frame count is out of bounds")
    try:
        frames = cbor2.loads(raw.data)
    except (cbor2.CBORDecodeError, ValueError) as bad:
        raise WireError(f"a stored post does not decode: {bad}") from None
    if not isinstance(frames, list) or len(frames) != int(count) or not all(isinstance(f, bytes) for f in frames):
        raise WireError("a stored post is not the list of frames its header announces")
    return frames
