"""Delivers the outbox to partner nodes over mutual TLS, retrying with backoff until each answers.

The partner's TLS certificate must chain to its national root (the client context trusts only the
partners' roots) and match the fingerprint pinned in peers.toml, checked as the connection is made:
a server holding any other certificate, even one its partner's root issued, is sent nothing.

Messages travel in batches: whatever is due for a partner goes in one POST (up to BATCH_SIZE, signed
together: one signature over a Merkle root, each message still verifiable alone); the partner handles
and records them in one transaction and answers each (its receipts signed together likewise), and the
answers are recorded here in one transaction. A few batches per partner are in flight at once;
a message is never in two of them, and of an item's notices to a partner only the oldest unsettled one
is due (storage `due`), so they arrive in the order they were written.

The store hands over what each transaction wrote to the outbox once it is durable (`notify`): a message
first in line for its partner and item (no older one about it pending when it was written) leaves at
once, without another read of the outbox. The outbox is read when something is known to wait (for
room, behind an older message, or after answers to an item that has more notices), and at every poll.

Several senders may share one outbox (worker processes of one node on PostgreSQL, `gsomia serve --workers`):
each claims what it sends for a lease (`Claimant`; storage `claim_due`, FOR UPDATE SKIP LOCKED there), so no
message leaves from two of them; what a worker writes is born claimed by its own sender, and a worker that
dies leaves its claims to the others once their lease has run out. A sender that stops gives its back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import ssl
import time
from datetime import timedelta

import aiohttp
import cbor2

from gsomia.services import delivery
from gsomia.services.context import Node
from gsomia.services.partners import Peer
from gsomia.services.records import Claimant, Enqueued, OutboxMessage

log = logging.getLogger(__name__)
PEER_PATH = "/peer/v1/messages"  # one message (the batch route's single-message form)
BATCH_PATH = "/peer/v1/batch"
CONTENT_TYPE = "application/cose; cose-type=cose-sign1"
BATCH_CONTENT_TYPE = "application/cbor"
BATCH_SIZE = 64
BATCHES_IN_FLIGHT_PER_PEER = 2
IDLE_CONNECTION_SECONDS = 4  # closed before uvicorn's keep-alive (5 s) can close it under a request
# A claim must outlast a batch's POST (timeout_seconds) and the record of its answers; the node's
# outbox_lease_s setting (30 s by default) is what a dead worker's messages wait at most before another sends them.
DEFAULT_LEASE_SECONDS = 30.0


def new_claimant(lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Claimant:
    """This process's sender: host, process id and a random part (a restarted process is another sender)."""
    return Claimant(f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(6)}",
                    timedelta(seconds=lease_seconds))


class Sender:
    def __init__(self, node: Node, ssl_context: ssl.SSLContext, *, poll_seconds: float = 0.2,
                 timeout_seconds: float = 10.0, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        if lease_seconds <= timeout_seconds:
            raise ValueError(f"the outbox lease ({lease_seconds} s) must outlast a POST ({timeout_seconds} s)")
        self.node, self.poll_seconds = node, poll_seconds
        self.claimant = new_claimant(lease_seconds)
        self._ssl_context, self._timeout = ssl_context, aiohttp.ClientTimeout(total=timeout_seconds)
        self._sessions: dict[str, aiohttp.ClientSession] = {}  # per partner, made on the running loop
        self.wake = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None  # set when `run` starts
        self.in_flight: set[str] = set()  # message ids in a batch on its way
        self.batches: dict[str, int] = {}  # batches in flight, per partner
        self.tasks: set[asyncio.Task[bool]] = set()
        self.backlog = True  # the outbox may hold due messages not yet on their way (until a look says not)
        self.stopping = False  # once set, no new batch starts and no new HTTPS client is made

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
        self.stopping = True
        try:
            if self.tasks:
                await asyncio.wait(self.tasks, timeout=self.poll_seconds * 5)
            await self.node.write(delivery.release_claims, self.node, self.claimant.id,
                                  besides=frozenset(self.in_flight))
        except Exception as bad:  # the store unreachable: the claims run out with their lease instead
            log.warning("cannot give back the outbox claims: %s", bad)
        finally:
            await self.close()

    async def close(self) -> None:
        """Closes the HTTPS clients (`run` does, once stopped). Batches still on their way are cancelled first
        and none is started after (their messages stay in the outbox for the next run), so that no client is
        made after the others were closed and left open."""
        self.stopping = True
        pending = [task for task in self.tasks if not task.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    async def _wait(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def notify(self, enqueued: list[Enqueued]) -> None:
        """Messages written to the outbox are durable (called from the thread that wrote them): those first
        in line leave at once, without reading the outbox again; the others when their turn comes."""
        if self.loop is not None:
            with contextlib.suppress(RuntimeError):  # its loop has closed: the node is stopping
                self.loop.call_soon_threadsafe(self._offer, enqueued)

    def _offer(self, enqueued: list[Enqueued]) -> None:
        if self.stopping:  # what it wrote stays claimed by this sender until given back, or its lease runs out
            return
        now = self.node.clock()
        # To an idle partner only: while a batch is on its way, the next ones gather in the outbox and go
        # together when it is answered (bigger batches, fewer signatures and commits per message).
        ready = [e.message for e in enqueued if e.first_in_line and e.message.next_attempt_at <= now
                 and not self.batches.get(e.message.peer)]
        if self._start_batches(ready) or len(ready) < len(enqueued):
            self.backlog = True  # some wait behind an older message, or for room: the next look finds them
            self.wake.set()

    async def dispatch_due(self) -> None:
        """Start a batch for each partner with room for one, from what the outbox holds that is due."""
        free = sum(BATCHES_IN_FLIGHT_PER_PEER - self.batches.get(p, 0) for p in self.node.partners.by_party)
        if free <= 0:
            return
        limit, besides = BATCH_SIZE * free, frozenset(self.in_flight)
        # A read first: a poll that finds nothing due writes nothing; then the claim, which may get fewer.
        due = await self.node.read(delivery.due_messages, self.node, limit, besides=besides, claimant=self.claimant.id)
        if due and not self._all_held(due):
            due = await self.node.write(delivery.claim_due, self.node, self.claimant, limit, besides=besides)
        self.backlog = self._start_batches(due) > 0 or len(due) >= limit

    def _all_held(self, messages: list[OutboxMessage]) -> bool:
        """Whether this sender holds every one of them for longer than a POST can take (what this process wrote
        is born claimed): then they go without another claim, and the busy single-worker path writes nothing."""
        margin = self.node.clock() + timedelta(seconds=self._timeout.total or 0)
        return all(m.claimed_by == self.claimant.id and m.lease_until is not None and m.lease_until > margin
                   for m in messages)

    def _start_batches(self, messages: list[OutboxMessage]) -> int:
        """Batches of `messages` for each partner with room, but for those already on their way (offered
        while the outbox was being read); returns how many are left for lack of room."""
        if self.stopping:
            return 0
        per_peer: dict[str, list[OutboxMessage]] = {}
        for message in messages:
            if message.message_id not in self.in_flight:
                per_peer.setdefault(message.peer, []).append(message)
        left = 0
        for peer, waiting in per_peer.items():
            while waiting and self.batches.get(peer, 0) < BATCHES_IN_FLIGHT_PER_PEER:
                batch, waiting = waiting[:BATCH_SIZE], waiting[BATCH_SIZE:]
                self._start(peer, batch)
            left += len(waiting)
        return left

    def _start(self, peer: str, batch: list[OutboxMessage]) -> None:
        self.in_flight.update(m.message_id for m in batch)
        self.batches[peer] = self.batches.get(peer, 0) + 1
        task = asyncio.ensure_future(self._deliver_batch(peer, batch))
        self.tasks.add(task)

        def done(finished: asyncio.Task[bool]) -> None:
            failed = not finished.cancelled() and finished.exception() is not None
            if failed:
                # e.g. the database was unavailable while recording: the batch stays pending, retried later
                log.error("delivery of a batch to %s failed: %s", peer, finished.exception())
            self.tasks.discard(finished)
            self.in_flight.difference_update(m.message_id for m in batch)
            self.batches[peer] -= 1
            # Look at the outbox again if something waits for room, or for these answers (an item's next
            # notice); otherwise the next write or poll will.
            if self.backlog or failed or finished.cancelled() or finished.result():
                self.wake.set()

        task.add_done_callback(done)

    async def _deliver_batch(self, peer_party: str, batch: list[OutboxMessage]) -> bool:
        """Whether, once the answers are recorded, other messages about these items wait to go to the partner."""
        started = time.perf_counter()
        outcomes = await self._post(peer_party, batch)
        answered = list(zip(batch, outcomes, strict=True))
        recorded = await self.node.write(delivery.record_outcomes, self.node, answered, claimant=self.claimant.id)
        self.node.metrics.delivery_seconds.labels(peer_party).observe(time.perf_counter() - started)
        return recorded.more_about_these_items

    def _http(self, peer: Peer) -> aiohttp.ClientSession:
        """The HTTPS client for one partner. TLS is verified with the client context (the partners' national
        roots, our client certificate) and the server's certificate must be the one pinned for the partner:
        aiohttp checks the connector's fingerprint as it connects, before anything is sent. aiohttp rather
        than httpx: a sixth of the CPU per request here (0.26 vs 1.5 ms), which a node that sends one
        message at a time pays per message."""
        session = self._sessions.get(peer.party)
        if session is None and self.stopping:  # a batch still starting as the sender stops: tried again later
            raise aiohttp.ClientConnectionError("the sender is stopping")
        if session is None:
            connector = aiohttp.TCPConnector(ssl=aiohttp.Fingerprint(bytes.fromhex(peer.tls_fingerprint)),
                                             keepalive_timeout=IDLE_CONNECTION_SECONDS)
            session = self._sessions[peer.party] = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return session

    async def _post(self, peer_party: str, batch: list[OutboxMessage]) -> list[delivery.Outcome]:
        """The partner's answer to each message (signed bytes), or why there is none (str)."""
        peer = self.node.partners.get(peer_party)
        if peer is None:
            return [f"{peer_party} is not a partner"] * len(batch)
        try:
            signed = delivery.signed_for_sending(self.node, batch)
            async with self._http(peer).post(peer.url + BATCH_PATH, data=cbor2.dumps(signed), ssl=self._ssl_context,
                                             headers={"content-type": BATCH_CONTENT_TYPE}) as response:
                status, content = response.status, await response.read()
        except aiohttp.ServerFingerprintMismatch:
            return [f"{peer_party}'s TLS certificate is not the pinned one"] * len(batch)
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError, OSError) as bad:
            return [f"{type(bad).__name__}: {bad}"] * len(batch)
        if status != 200:
            return [f"HTTP {status}: {content[:300].decode('utf-8', 'replace')}"] * len(batch)
        return _answers(content, len(batch))


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
