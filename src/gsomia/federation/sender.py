"""Delivers the outbox to partner nodes over mutual TLS, retrying with backoff until each answers.

The partner's TLS certificate must chain to its national root (the client context trusts only the
partners' roots) and match the fingerprint pinned in peers.toml; the answer counts only then. What
travels is sealed to the recipient's keys, so even a rogue server holding a partner-issued certificate
learns nothing before the pin check refuses its answer.

Messages travel in batches: whatever is due for a partner goes in one POST (up to BATCH_SIZE, signed
together: one signature over a Merkle root, each message still verifiable alone); the partner handles
and records them in one transaction and answers each (its receipts signed together likewise), and the
answers are recorded here in one transaction. A few batches per partner are in flight at once;
a message is never in two of them, and of an item's notices to a partner only the oldest unsettled one
is due (storage `due`), so they arrive in the order they were written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

import cbor2
import httpx

from gsomia.crypto import fingerprint
from gsomia.services import delivery
from gsomia.services.partners import Partners
from gsomia.services.runtime import Node
from gsomia.storage.exchange import OutboxMessage

log = logging.getLogger(__name__)
PEER_PATH = "/peer/v1/messages"  # one message (the batch route's single-message form)
BATCH_PATH = "/peer/v1/batch"
CONTENT_TYPE = "application/cose; cose-type=cose-sign1"
BATCH_CONTENT_TYPE = "application/cbor"
BATCH_SIZE = 64
BATCHES_IN_FLIGHT_PER_PEER = 2


class Sender:
    def __init__(self, node: Node, partners: Partners, ssl_context: ssl.SSLContext, *, poll_seconds: float = 0.2,
                 timeout_seconds: float = 10.0) -> None:
        self.node, self.partners, self.poll_seconds = node, partners, poll_seconds
        self.client = httpx.AsyncClient(verify=ssl_context, timeout=timeout_seconds)
        self.wake = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None  # set when `run` starts
        self.in_flight: set[str] = set()  # message ids in a batch on its way
        self.batches: dict[str, int] = {}  # batches in flight, per partner
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        self.loop = asyncio.get_running_loop()
        while not stop.is_set():
            self.wake.clear()  # before looking: a wake-up that comes while we look is kept for the next round
            try:
                await self.dispatch_due()
            except Exception as bad:  # e.g. the database is unreachable for a while: look again at the next poll
                log.error("cannot read the outbox: %s", bad)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait(stop), timeout=self.poll_seconds)
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=self.poll_seconds * 5)
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
            with contextlib.suppress(RuntimeError):  # its loop has closed: the node is stopping
                self.loop.call_soon_threadsafe(self.wake.set)

    async def dispatch_due(self) -> int:
        """Start a batch for each partner with room for one; returns how many messages it sent on their way."""
        free = sum(BATCHES_IN_FLIGHT_PER_PEER - self.batches.get(p, 0) for p in self.partners.by_party)
        if free <= 0:
            return 0
        due = await self.node.read(delivery.due_messages, self.node, BATCH_SIZE * free,
                                   besides=frozenset(self.in_flight))
        per_peer: dict[str, list[OutboxMessage]] = {}
        for message in due:
            per_peer.setdefault(message.peer, []).append(message)
        started = 0
        for peer, messages in per_peer.items():
            while messages and self.batches.get(peer, 0) < BATCHES_IN_FLIGHT_PER_PEER:
                batch, messages = messages[:BATCH_SIZE], messages[BATCH_SIZE:]
                self._start(peer, batch)
                started += len(batch)
        return started

    def _start(self, peer: str, batch: list[OutboxMessage]) -> None:
        self.in_flight.update(m.message_id for m in batch)
        self.batches[peer] = self.batches.get(peer, 0) + 1
        task = asyncio.ensure_future(self._deliver_batch(peer, batch))
        self.tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            if not finished.cancelled() and finished.exception() is not None:
                # e.g. the database was unavailable while recording: the batch stays pending, retried later
                log.error("delivery of a batch to %s failed: %s", peer, finished.exception())
            self.tasks.discard(finished)
            self.in_flight.difference_update(m.message_id for m in batch)
            self.batches[peer] -= 1
            self.wake.set()  # room for another batch; answers may have made an item's next notice due

        task.add_done_callback(done)

    async def _deliver_batch(self, peer_party: str, batch: list[OutboxMessage]) -> None:
        outcomes = await self._post(peer_party, batch)
        answered = list(zip(batch, outcomes, strict=True))
        await self.node.write(delivery.record_outcomes, self.node, self.partners, answered)

    async def _post(self, peer_party: str, batch: list[OutboxMessage]) -> list[delivery.Outcome]:
        """The partner's answer to each message (signed bytes), or why there is none (str)."""
        peer = self.partners.get(peer_party)
        if peer is None:
            return [f"{peer_party} is not a partner"] * len(batch)
        try:
            signed = delivery.signed_for_sending(self.node, batch)
            response = await self.client.post(peer.url + BATCH_PATH, content=cbor2.dumps(signed),
                                              headers={"content-type": BATCH_CONTENT_TYPE})
            served_by = _peer_certificate(response)
            if served_by is None or fingerprint(served_by) != peer.tls_fingerprint:
                raise ConnectionError(f"{peer_party}'s TLS certificate is not the pinned one")
        except (httpx.HTTPError, ConnectionError, ssl.SSLError, OSError) as bad:
            return [f"{type(bad).__name__}: {bad}"] * len(batch)
        if response.status_code != 200:
            return [f"HTTP {response.status_code}: {response.text[:300]}"] * len(batch)
        return _answers(response.content, len(batch))


def _answers(content: bytes, count: int) -> list[delivery.Outcome]:
    """Each entry: the signed answer (bytes) or {"status", "error"} for a message the partner refused to take."""
    try:
        answers = cbor2.loads(content)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as bad:
        return [f"the partner's answer is not CBOR: {bad}"] * count
    if not isinstance(answers, list) or len(answers) != count:
        return ["the partner's answer does not hold one entry per message"] * count
    return [a if isinstance(a, bytes) else f"HTTP {a.get('status')}: {str(a.get('error'))[:300]}"
            if isinstance(a, dict) else "malformed answer entry" for a in answers]


def _peer_certificate(response: httpx.Response) -> bytes | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    return ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
