"""Publish/subscribe inside a node: an in-process asyncio broker, or NATS JetStream for many processes.

Both keep one small interface (`Broker`): publish a `Delivery` (the message and its wire frame, so
nobody encodes twice), subscribe with a `Gate`. The gate is the per-recipient policy filter
(`dissemination.StreamFilter`); it answers from a per-(stream, label) cache, so the broker asks it
per message at the cost of a dict look-up, and the policy runs once per stream and subscriber.

A subscriber that falls behind loses its *oldest* queued messages (a newer track position is worth
more) and the loss is counted in `dropped`; its sequence tracker sees the hole and asks for replay,
so nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from gsomia.domain.tracks import Routed
from gsomia.feed.errors import FeedError


class Delivery(NamedTuple):
    """A message on its way: its header (or the whole message, when it was built here) and its frame."""

    msg: Routed
    frame: bytes      # the message's wire frame: what goes on the wire, never re-encoded


class Gate(Protocol):
    def allows(self, msg: Routed) -> bool: ...


class AllowAll:
    """For a node's own internal consumers (the peer links filter on their own side)."""

    def allows(self, msg: Routed) -> bool:
        return True


class Subscription:
    """A bounded queue of deliveries for one subscriber.

    A deque and an Event rather than asyncio.Queue: one reader per subscription, and the hot path
    (offer) is then an append and a flag, not the Queue's getter/putter bookkeeping.
    """

    def __init__(self, name: str, gate: Gate, maxsize: int) -> None:
        self.name = name
        self.gate = gate
        self._queue: deque[Delivery] = deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()
        self.dropped = 0
        self.refused = 0
        self.closed = False

    def offer(self, delivery: Delivery) -> None:
        if not self.gate.allows(delivery.msg):
            self.refused += 1
            return
        if len(self._queue) >= self._maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(delivery)
        self._ready.set()

    def offer_many(self, deliveries: Sequence[Delivery]) -> None:
        allows, queue = self.gate.allows, self._queue
        taken = 0
        for delivery in deliveries:
            if allows(delivery.msg):
                queue.append(delivery)
                taken += 1
        self.refused += len(deliveries) - taken
        excess = len(queue) - self._maxsize
        if excess > 0:
            for _ in range(excess):
                queue.popleft()
            self.dropped += excess
        if taken:
            self._ready.set()

    def qsize(self) -> int:
        return len(self._queue)

    async def get(self) -> Delivery:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def drain(self, limit: int) -> list[Delivery]:
        """What is queued now, without waiting (for natural batching)."""
        queue = self._queue
        if len(queue) <= limit:
            out = list(queue)
            queue.clear()
            return out
        return [queue.popleft() for _ in range(limit)]

    async def next_batch(self, limit: int) -> list[Delivery]:
        first = await self.get()
        return [first, *self.drain(limit - 1)]


class Broker(Protocol):
    async def publish(self, delivery: Delivery) -> None: ...
    async def publish_many(self, deliveries: Sequence[Delivery]) -> None:
        """The messages of one received batch, in order (one call, not one per message)."""
        ...

    async def subscribe(self, name: str, gate: Gate, maxsize: int = 100_000) -> Subscription: ...
    async def unsubscribe(self, subscription: Subscription) -> None: ...
    async def close(self) -> None: ...


class LocalBroker:
    """The embedded default: fan-out in the publisher's own task, no copies, no serialisation."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    async def publish(self, delivery: Delivery) -> None:
        for sub in self._subs:
            sub.offer(delivery)

    async def publish_many(self, deliveries: Sequence[Delivery]) -> None:
        for sub in self._subs:
            sub.offer_many(deliveries)

    async def subscribe(self, name: str, gate: Gate, maxsize: int = 100_000) -> Subscription:
        sub = Subscription(name, gate, maxsize)
        self._subs.append(sub)
        return sub

    async def unsubscribe(self, subscription: Subscription) -> None:
        subscription.closed = True
        if subscription in self._subs:
            self._subs.remove(subscription)

    async def close(self) -> None:
        for sub in list(self._subs):
            await self.unsubscribe(sub)


_SUBJECT_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def subject_token(stream: str) -> str:
    """Stream ids become NATS subject tokens; refuse what would change the subject's meaning."""
    if not _SUBJECT_SAFE.match(stream):
        raise FeedError(f"stream id {stream!r} must be 1-128 of A-Z a-z 0-9 _ - to travel over NATS")
    return stream


__all__ = ["AllowAll", "Broker", "Delivery", "Gate", "LocalBroker", "Subscription", "subject_token"]
