"""Delivers the outbox to partner nodes over mutual TLS, retrying with backoff until each answers.

The partner's TLS certificate must chain to its national root (the client context trusts only the
partners' roots) and match the fingerprint pinned in peers.toml; the answer counts only then. What
travels is sealed to the recipient's keys, so even a rogue server holding a partner-issued certificate
learns nothing before the pin check refuses its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import httpx

from gsomia.crypto import fingerprint
from gsomia.services import delivery
from gsomia.services.partners import Partners
from gsomia.services.runtime import Node
from gsomia.storage.exchange import OutboxMessage

PEER_PATH = "/peer/v1/messages"
CONTENT_TYPE = "application/cose; cose-type=cose-sign1"
PARALLEL_PER_PEER = 8


class Sender:
    def __init__(self, node: Node, partners: Partners, ssl_context: ssl.SSLContext, *, poll_seconds: float = 0.2,
                 timeout_seconds: float = 10.0) -> None:
        self.node, self.partners, self.poll_seconds = node, partners, poll_seconds
        self.client = httpx.AsyncClient(verify=ssl_context, timeout=timeout_seconds)
        self.wake = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None  # set when `run` starts
        self.per_peer: dict[str, asyncio.Semaphore] = {}

    async def run(self, stop: asyncio.Event) -> None:
        self.loop = asyncio.get_running_loop()
        while not stop.is_set():
            await self.deliver_due()
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait(stop), timeout=self.poll_seconds)
        await self.client.aclose()

    async def _wait(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def notify(self) -> None:
        """Something was written to the outbox (from any thread): deliver now rather than at the next poll."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.wake.set)

    async def deliver_due(self) -> int:
        outgoing = await asyncio.to_thread(delivery.due_messages, self.node, 200)
        # Messages about the same item (release, then recall…) to the same peer stay in order; the
        # others go in parallel, a few at a time per peer.
        chains: dict[tuple[str, str], list[OutboxMessage]] = {}
        for message in outgoing:
            chains.setdefault((message.peer, message.item_id or message.message_id), []).append(message)
        await asyncio.gather(*(self._deliver_in_order(chain) for chain in chains.values()))
        return len(outgoing)

    async def _deliver_in_order(self, messages: list[OutboxMessage]) -> None:
        async with self.per_peer.setdefault(messages[0].peer, asyncio.Semaphore(PARALLEL_PER_PEER)):
            for message in messages:
                if not await self.deliver(message):
                    return  # failing: keep the order, try the rest later

    async def deliver(self, message: OutboxMessage) -> bool:
        peer = self.partners.get(message.peer)
        if peer is None:
            await asyncio.to_thread(delivery.record_failure, self.node, message, f"{message.peer} is not a partner")
            return False
        try:
            signed = delivery.signed_for_sending(self.node, message)
            response = await self.client.post(peer.url + PEER_PATH, content=signed,
                                              headers={"content-type": CONTENT_TYPE})
            served_by = _peer_certificate(response)
            if served_by is None or fingerprint(served_by) != peer.tls_fingerprint:
                raise ConnectionError(f"{message.peer}'s TLS certificate is not the pinned one")
        except (httpx.HTTPError, ConnectionError, ssl.SSLError, OSError) as bad:
            await asyncio.to_thread(delivery.record_failure, self.node, message, f"{type(bad).__name__}: {bad}")
            return False
        if response.status_code != 200:
            await asyncio.to_thread(delivery.record_failure, self.node, message,
                                    f"HTTP {response.status_code}: {response.text[:300]}")
            return False
        outcome = await asyncio.to_thread(delivery.record_answer, self.node, self.partners, message, response.content)
        return outcome in ("accepted", "refused")


def _peer_certificate(response: httpx.Response) -> bytes | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    return ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
