"""The feed protocol over one WebSocket: who sends what, in which order, and how gaps are repaired.

    client → server   text   {"v": 1, "role": "push"|"pull", "node": id, "positions": {…}, "nonce": hex}
    server → client   text   {"v": 1, "node": id, "positions": {stream: next}, "nonce": hex}
    sender → receiver binary a signed batch (batch_signing): label frames then message frames
    receiver → sender text   {"replay": stream, "first": n, "last": m}   a hole to fill
    sender → receiver text   {"gone": stream, "first": n, "last": m}     cannot be filled: count it lost

"push" is an upstream node or sensor sending to the server; "pull" is a subscriber the server sends
to. Either way the side that sends runs a `Sender` and the side that receives a `Receiver`; the
hello carries the receiver's positions so a sender resumes where the receiver stopped instead of
where the connection broke (no silent gap across a disconnect). The receiver's hello also carries a
fresh nonce that every batch signature on that connection covers, so batches recorded on one
connection are refused on any other.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.domain.tracks import Header, TrackMessage
from gsomia.feed.batch_signing import BatchSigner, decode_batch, verify_batch
from gsomia.feed.broker import Delivery, Subscription
from gsomia.feed.errors import FeedError, InvalidBatch
from gsomia.feed.wire import LabelParser, WireDecoder
from gsomia.services.metrics import NodeMetrics
from gsomia.services.records import Stored

PROTOCOL_VERSION = 1
MAX_REPLAY_SPAN = 100_000  # one request may not make a sender scan more than this
# How many batches a quiet link may sign back to back before spacing them: enough to pass on a
# peer's batches at once despite jitter in their arrival, too few to let a flood sign per message.
BURST_BATCHES = 4


class Channel(Protocol):
    """The part of a WebSocket connection the protocol uses (tests may pass a fake)."""

    async def send(self, message: str | bytes) -> None: ...
    async def recv(self) -> str | bytes: ...


class History(Protocol):
    """What a sender replays from: the node's replay buffer, labels and pending holes."""

    def label_frame(self, digest: bytes) -> bytes: ...
    def streams(self) -> list[str]: ...
    def newest(self, stream: str) -> int: ...
    def replay(self, stream: str, first: int, last: int | None) -> tuple[list[Stored], list[tuple[int, int]]]: ...
    def header(self, stored: Stored) -> Header: ...


def new_nonce() -> bytes:
    return secrets.token_bytes(16)


def hello(role: str, node: str, positions: Mapping[str, int], nonce: bytes = b"") -> str:
    return json.dumps({"v": PROTOCOL_VERSION, "role": role, "node": node, "positions": dict(positions),
                       "nonce": nonce.hex()})


def parse_nonce(data: dict[str, Any]) -> bytes:
    raw = data.get("nonce")
    try:
        nonce = bytes.fromhex(raw) if isinstance(raw, str) else b""
    except ValueError:
        nonce = b""
    if len(nonce) != 16:
        raise FeedError("hello lacks a 16-byte nonce")
    return nonce


def parse_control(text: str | bytes) -> dict[str, Any]:
    if not isinstance(text, str):
        raise FeedError("expected a text control message")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise FeedError("control message is not JSON") from None
    if not isinstance(data, dict):
        raise FeedError("control message is not an object")
    return data


def parse_positions(data: dict[str, Any]) -> dict[str, int]:
    raw = data.get("positions", {})
    if not isinstance(raw, dict):
        raise FeedError("positions must be an object")
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int) and v >= 1}


def replay_request(stream: str, first: int, last: int) -> str:
    return json.dumps({"replay": stream, "first": first, "last": last})


class Sender:
    """Sends one subscription's deliveries as signed batches; answers replay requests.

    Batching is natural: whatever is queued when the link is ready to send goes next, up to
    `max_batch`. A signature plus each receiver's verification costs ~0.2 ms of CPU here, and every
    hop down the chain pays it again per batch, so a link signs at most one batch per
    `min_interval_s` on average: a token bucket that holds BURST_BATCHES. A quiet link, or a relay
    passing on a peer's batches (already spaced by the peer), finds a token and sends at once; a
    busy one waits for the next token while its batch grows. Under load batches grow instead of the
    signing rate, and the per-message cost falls.
    """

    def __init__(self, source: Subscription, signer: BatchSigner, history: History, max_batch: int = 512,
                 min_interval_s: float = 0.002, meter: NodeMetrics | None = None) -> None:
        self.source = source
        self._meter = meter  # the node's metrics: each live batch's time from taken off the queue to sent
        self._min_interval = min_interval_s
        self._tokens = float(BURST_BATCHES)
        self._refilled = 0.0
        self._signer = signer
        self._history = history
        self._max_batch = max_batch
        self._announced: set[bytes] = set()
        self._channel = b""
        self.sent = 0
        self.batches = 0

    async def _send(self, channel: Channel, items: list[tuple[bytes, bytes]]) -> None:
        frames: list[bytes] = []
        announced = self._announced
        for digest, frame in items:
            if digest not in announced:
                frames.append(self._history.label_frame(digest))
                announced.add(digest)
            frames.append(frame)
        await channel.send(self._signer.sign(frames, self._channel).encode())
        self.sent += len(items)
        self.batches += 1

    async def resume(self, channel: Channel, positions: Mapping[str, int], nonce: bytes) -> None:
        """A (re)connected receiver: forget what the queue holds and replay from its positions."""
        self._announced.clear()
        self._channel = nonce
        self.source.drain(1 << 30)  # all of it is in the history, which is replayed below
        for stream in self._history.streams():
            first = positions.get(stream, 1)
            if self._history.newest(stream) >= first:
                await self.replay(channel, stream, first, None)

    async def replay(self, channel: Channel, stream: str, first: int, last: int | None) -> None:
        found, gone = self._history.replay(stream, first, last)
        # A replay passes the same gate as live traffic, message by message (each is counted for the
        # audit trail): a hole is no way around the policy. The gate decides on stream, label and number,
        # so one frame per label is decoded and its header, renumbered, stands for the others.
        allows = self.source.gate.allows
        heads: dict[bytes, Header] = {}
        items: list[tuple[bytes, bytes]] = []
        for s in found:
            head = heads.get(s.digest)
            if head is None:
                head = heads[s.digest] = self._history.header(s)
            if allows(head._replace(seq=s.seq)):
                items.append((s.digest, s.frame))
        for i in range(0, len(items), self._max_batch):
            await self._send(channel, items[i:i + self._max_batch])
        for a, b in gone:
            await channel.send(json.dumps({"gone": stream, "first": a, "last": b}))

    def _wait_for_token(self, now: float) -> float:
        """Seconds until a batch may be signed (0: now), the bucket refilled up to `now`."""
        if self._min_interval <= 0:
            return 0.0
        self._tokens = min(float(BURST_BATCHES), self._tokens + (now - self._refilled) / self._min_interval)
        self._refilled = now
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) * self._min_interval

    async def pump(self, channel: Channel) -> None:
        """Live traffic, until the channel fails (the caller reconnects or ends)."""
        loop = asyncio.get_running_loop()
        source, limit = self.source, self._max_batch
        while True:
            batch: list[Delivery] = await source.next_batch(limit)
            taken = loop.time()
            wait = self._wait_for_token(taken)
            if wait > 0:
                await asyncio.sleep(wait)
                batch += source.drain(limit - len(batch))
                self._wait_for_token(loop.time())
            self._tokens -= 1.0
            await self._send(channel, [(d.msg.digest, d.frame) for d in batch])
            if self._meter is not None:
                self._meter.feed_hop("link", loop.time() - taken)

    async def answer(self, channel: Channel) -> None:
        """Replay requests from the receiver, until the channel fails."""
        while True:
            data = parse_control(await channel.recv())
            stream, first, last = data.get("replay"), data.get("first"), data.get("last")
            if not (isinstance(stream, str) and isinstance(first, int) and isinstance(last, int)):
                continue  # unknown control messages are ignored: newer peers may send more
            if 1 <= first <= last and last - first < MAX_REPLAY_SPAN:
                await self.replay(channel, stream, first, last)


@dataclass(frozen=True, slots=True)
class Received:
    msg: TrackMessage
    frame: bytes
    signer: str


class Receiver:
    """Verifies batches from one sender and decodes their frames (labels are per connection)."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey], signer: str, parse_label: LabelParser,
                 nonce: bytes) -> None:
        key = keys.get(signer)
        if key is None:
            raise FeedError(f"{signer!r} is not a trusted feed node")
        self._key = key
        self.signer = signer
        self._decoder = WireDecoder(parse_label)
        self._last_batch = 0
        self.nonce = nonce

    def verified(self, data: bytes) -> tuple[bytes, ...]:
        """The frames of a batch whose signature, signer, connection and number all check out."""
        batch = decode_batch(data)
        if batch.signer != self.signer:
            raise InvalidBatch(f"batch signed as {batch.signer}, connection is {self.signer}")
        verify_batch(batch, self._key, self.nonce)
        # Numbers only increase on a connection: a replayed or reordered batch is refused whole.
        if batch.number <= self._last_batch:
            raise InvalidBatch(f"batch {batch.number} after {self._last_batch}: replayed or reordered")
        self._last_batch = batch.number
        return batch.frames

    def open(self, data: bytes) -> list[Received]:
        """A verified batch's messages, decoded whole (a subscriber's end)."""
        out: list[Received] = []
        decode = self._decoder.decode
        for frame in self.verified(data):
            msg = decode(frame)
            if msg is not None:
                out.append(Received(msg, frame, self.signer))
        return out

    def open_headers(self, data: bytes) -> list[tuple[Header, bytes]]:
        """A verified batch's messages as (header, frame): a relay's end, which forwards the frames."""
        out: list[tuple[Header, bytes]] = []
        header = self._decoder.header
        for frame in self.verified(data):
            head = header(frame)
            if head is not None:
                out.append((head, frame))
        return out


async def run_both(*coros: Coroutine[Any, Any, None]) -> None:
    """Run until the first ends (a closed connection ends both halves)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
