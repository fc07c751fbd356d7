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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.feed.batch_signing import BatchSigner, decode_batch, verify_batch
from gsomia.feed.broker import Delivery, Subscription
from gsomia.feed.errors import FeedError, InvalidBatch
from gsomia.feed.replay import Stored
from gsomia.feed.tracks import TrackMessage
from gsomia.feed.wire import LabelParser, WireDecoder

PROTOCOL_VERSION = 1
MAX_REPLAY_SPAN = 100_000  # one request may not make a sender scan more than this
# A batch this big says messages are queuing faster than the link signs: start spacing batches.
# Two is still normal jitter at ~1,000 msg/s (a sender's loop wakes up to two messages at once).
BUSY_BATCH = 3


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
    def message(self, stored: Stored) -> TrackMessage: ...


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

    Batching is natural: whatever is queued when the previous batch has gone goes next, up to
    `max_batch`. Under load batches are also at least `min_interval_s` apart: a signature plus the
    receiver's verification cost ~185 µs, so a busy link signs at most 1/min_interval times a
    second and its batches grow instead. "Under load" means the previous batch was big (BUSY_BATCH
    or more: messages queued up while the last one was signed); a link whose messages come one or
    two at a time sends each at once. Later hops receive whole batches already spaced, and mostly
    forward them without waiting.
    """

    def __init__(self, source: Subscription, signer: BatchSigner, history: History, max_batch: int = 512,
                 min_interval_s: float = 0.002) -> None:
        self.source = source
        self._min_interval = min_interval_s
        self._last_send = 0.0
        self._busy = False
        self._signer = signer
        self._history = history
        self._max_batch = max_batch
        self._announced: set[bytes] = set()
        self._channel = b""
        self.sent = 0
        self.batches = 0

    async def _send(self, channel: Channel, items: list[tuple[bytes, bytes]]) -> None:
        frames: list[bytes] = []
        for digest, frame in items:
            if digest not in self._announced:
                frames.append(self._history.label_frame(digest))
                self._announced.add(digest)
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
        # A replay passes the same gate as live traffic: a hole is no way around the policy. The gate
        # decides per (stream, label), so one decoded message per label answers for the rest.
        verdicts: dict[bytes, bool] = {}
        items: list[tuple[bytes, bytes]] = []
        for s in found:
            allowed = verdicts.get(s.digest)
            if allowed is None:
                allowed = verdicts[s.digest] = self.source.gate.allows(self._history.message(s))
            if allowed:
                items.append((s.digest, s.frame))
        for i in range(0, len(items), self._max_batch):
            await self._send(channel, items[i:i + self._max_batch])
        for a, b in gone:
            await channel.send(json.dumps({"gone": stream, "first": a, "last": b}))

    async def pump(self, channel: Channel) -> None:
        """Live traffic, until the channel fails (the caller reconnects or ends)."""
        loop = asyncio.get_running_loop()
        while True:
            batch: list[Delivery] = await self.source.next_batch(self._max_batch)
            wait = self._last_send + self._min_interval - loop.time()
            if self._busy and wait > 0:
                await asyncio.sleep(wait)
                batch += self.source.drain(self._max_batch - len(batch))
            self._last_send = loop.time()
            self._busy = len(batch) >= BUSY_BATCH
            await self._send(channel, [(d.msg.digest, d.frame) for d in batch])

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

    def open(self, data: bytes) -> list[Received]:
        batch = decode_batch(data)
        if batch.signer != self.signer:
            raise InvalidBatch(f"batch signed as {batch.signer}, connection is {self.signer}")
        verify_batch(batch, self._key, self.nonce)
        # Numbers only increase on a connection: a replayed or reordered batch is refused whole.
        if batch.number <= self._last_batch:
            raise InvalidBatch(f"batch {batch.number} after {self._last_batch}: replayed or reordered")
        self._last_batch = batch.number
        out: list[Received] = []
        for frame in batch.frames:
            msg = self._decoder.decode(frame)
            if msg is not None:
                out.append(Received(msg, frame, batch.signer))
        return out
