"""The composition root: a running node, built from its parts. `gsomia serve`, the demo and the tests
that run real nodes start here; nothing else knows every transport.

    officials ──HTTPS (TLS 1.3)──▶ api app (api/app.py, every router)       ─┐
    partners  ──mutual TLS──────▶ peer endpoint (federation/peer_app.py)    ─┼─▶ services ─▶ store
    outbox ──▶ sender (federation/sender.py) ──mutual TLS, pinned──▶ partners ─┘
    sensors, partners' feeds ──WSS──▶ missile-warning feed (feed/served.py) ──WSS──▶ partners, subscribers
    TAK clients, CoT sensors ──TLS 1.3, enrolled client certificates──▶ CoT / TAK endpoint (feed/cot_listener.py,
                                                                  with `cot_port`) ◀──▶ the feed

Every listener's TLS context comes from the crypto layer (crypto.pki: TLS 1.3 only; the peer port
requires a client certificate from a partner's national root, the feed port asks for one and requires
it of pushes); all run in one event loop with the node's writer thread beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass

import uvicorn
from prometheus_client import make_asgi_app
from prometheus_client.registry import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import Mount

from gsomia.api.app import create_app
from gsomia.crypto import client_context, enrolled_clients_context, passphrase_from_env, server_context, trust_enrolled
from gsomia.domain.officials import Official
from gsomia.federation.peer_app import create_peer_app
from gsomia.federation.sender import Sender
from gsomia.federation.tls import Listener
from gsomia.feed.cot_listener import CotListener
from gsomia.feed.errors import FeedError
from gsomia.feed.served import NodeFeed
from gsomia.services import agreement_events, audit, audit_anchors, cot_clients, feed_posts
from gsomia.services.context import Node

log = logging.getLogger(__name__)
AGREEMENTS_POLL_S = 1.0
COT_ENROLMENTS_POLL_S = 2.0


@dataclass(frozen=True)
class Endpoints:
    api_url: str
    peer_url: str
    feed_url: str


@dataclass(frozen=True)
class NodeTLS:
    """The node's TLS contexts: one per role, all from the node's certificate and key."""

    api: ssl.SSLContext     # officials: no client certificate (they present a token)
    peer: ssl.SSLContext    # partner nodes: client certificate from a partner's national root, required
    feed: ssl.SSLContext    # feed: asked for (partners' pushes need it), optional (subscribers use a token)
    client: ssl.SSLContext  # our own calls to partners: presents our certificate, trusts only their roots

    @classmethod
    def of(cls, node: Node, passphrase: bytes) -> NodeTLS:
        keys = node.settings.effective_keys_dir
        certificate, key = keys / "tls.crt.pem", keys / "tls.key.pem"
        roots, minimum = node.partners.roots_bundle(), node.settings.tls_min_version
        return cls(api=server_context(certificate, key, passphrase, client_certificates="none", minimum=minimum),
                   peer=server_context(certificate, key, passphrase, client_roots=roots, minimum=minimum),
                   feed=server_context(certificate, key, passphrase, client_roots=roots,
                                       client_certificates="optional" if roots else "none", minimum=minimum),
                   client=client_context(certificate, key, passphrase, server_roots=roots, minimum=minimum))


def metrics_app(registry: CollectorRegistry) -> Starlette:
    """The node's registry at /metrics in Prometheus' text format, without a token: for the metrics port only."""
    return Starlette(routes=[Mount("/metrics", app=make_asgi_app(registry))])


class NodeServer:
    """One process serving the node. With `workers` > 1 (`gsomia serve --workers N`, PostgreSQL) it is worker
    `worker` of N: every worker serves the API and the peer endpoint on the same ports (SO_REUSEPORT) and sends
    from the shared outbox (claimed rows, federation/sender.py); worker 0 alone anchors the audit trail and
    serves the CoT / TAK endpoint. The missile-warning feed is served by every worker on one port if the node
    shares its feed through a broker (`feed_broker`: sequence, replay and fan-out in NATS JetStream, the partner
    links in whichever worker holds the lease), else by worker 0 alone."""

    def __init__(self, node: Node, *, passphrase: bytes | None = None, worker: int = 0, workers: int = 1) -> None:
        self.node, self.worker, self.workers = node, worker, workers
        passphrase = passphrase if passphrase is not None else passphrase_from_env()
        settings = node.settings
        self.tls = NodeTLS.of(node, passphrase)
        self.feed: NodeFeed | None = None
        try:
            if worker == 0 or settings.feed_broker is not None:
                self.feed = NodeFeed(node, client_context=self.tls.client, server_context=self.tls.feed)
        except FeedError as no_feed:  # e.g. a PKCS#11 ECDSA signing key: the node serves all but the feed
            log.warning("%s node: no missile-warning feed: %s", node.party, no_feed)
        self.cot: CotListener | None = None
        self.cot_tls: ssl.SSLContext | None = None
        if settings.cot_port is not None and self.feed is not None and worker == 0:
            self.cot, self.cot_tls = self._cot_endpoint(passphrase)
        elif settings.cot_port is not None and worker == 0:
            log.warning("%s node: no CoT / TAK endpoint: it serves the feed's tracks, and there is no feed", node.party)
        self.api_app = api_app = create_app(node, track_feed=self.feed)
        peer_app = create_peer_app(node)
        listeners = [(Listener(settings.host, settings.api_port, self.tls.api, settings.trusted_proxies), api_app),
                     (Listener(settings.host, settings.peer_port, self.tls.peer), peer_app)]
        self.servers = [uvicorn.Server(listener.uvicorn_config(app)) for listener, app in listeners]
        self._sockets = [[listener.shared_socket()] if workers > 1 else None for listener, _ in listeners]
        if settings.metrics_port is not None and worker == 0:  # a scraper's plain port on a management network
            self.servers.append(uvicorn.Server(uvicorn.Config(  # (/metrics only; with workers, worker 0's counts)
                metrics_app(node.metrics.registry), host=settings.metrics_host, port=settings.metrics_port,
                lifespan="off", log_level="critical", access_log=False, timeout_graceful_shutdown=1)))
            self._sockets.append(None)
        self.sender = Sender(node, self.tls.client, lease_seconds=settings.outbox_lease_s)
        # Whatever writes to the outbox in this process wakes the sender, until the server stops, and is
        # claimed for it as it is written (other workers' senders leave it alone).
        self._stop_notifying = node.store.call_when_enqueued(self.sender.notify, claimant=self.sender.claimant)
        self.endpoints = Endpoints(f"https://{settings.host}:{settings.api_port}",
                                   f"https://{settings.host}:{settings.peer_port}",
                                   f"wss://{settings.host}:{settings.feed_port}")
        self.stop = asyncio.Event()
        self.feed_started = asyncio.Event()
        self.cot_port: int | None = None

    def _cot_endpoint(self, passphrase: bytes) -> tuple[CotListener, ssl.SSLContext]:
        """The CoT / TAK endpoint: TLS admitting only enrolled client certificates, each mapped to its official."""
        node, settings = self.node, self.node.settings
        assert self.feed is not None
        keys = settings.effective_keys_dir
        context = enrolled_clients_context(keys / "tls.crt.pem", keys / "tls.key.pem", passphrase,
                                           enrolled=cot_clients.enrolled_bundle(node), minimum=settings.tls_min_version)
        plain = None
        if settings.cot_plain_classification:
            plain = feed_posts.label_of(node, {
                "classification": settings.cot_plain_classification, "releasable_to": settings.cot_plain_releasable_to,
                "topics": settings.cot_plain_topics, "purpose": settings.cot_plain_purpose})

        async def admit(der: bytes | None) -> Official | None:
            return await asyncio.to_thread(cot_clients.admit, node, der)

        return CotListener(self.feed, admit=admit, plain_label=plain), context

    async def _follow_cot_enrolments(self) -> None:
        """Certificates enrolled while the node runs are trusted by the CoT endpoint within COT_ENROLMENTS_POLL_S
        (a withdrawn one is refused at once: `cot_clients.admit` reads the enrolments at every connection)."""
        assert self.cot_tls is not None
        known = b""
        while not self.stop.is_set():
            try:
                bundle = await asyncio.to_thread(cot_clients.enrolled_bundle, self.node)
                if bundle != known:
                    trust_enrolled(self.cot_tls, bundle)
                    known = bundle
            except Exception:  # a half-edited file: the next poll retries
                log.exception("%s node: cannot re-read the CoT enrolments", self.node.party)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), COT_ENROLMENTS_POLL_S)

    @property
    def partners(self) -> list[str]:
        return sorted(self.node.partners.by_party)

    async def run(self) -> None:
        if self.feed is not None:
            await self.feed.start(shared_port=self.workers > 1)
        if self.cot is not None:
            self.cot_port = await self.cot.start(self.node.settings.host, self.node.settings.cot_port or 0,
                                                 self.cot_tls)
        self.feed_started.set()
        tasks = [asyncio.create_task(s.serve(sockets=sockets)) for s, sockets in zip(self.servers, self._sockets,
                                                                                      strict=True)]
        if self.cot is not None:
            tasks.append(asyncio.create_task(self._follow_cot_enrolments()))
        tasks.append(asyncio.create_task(self.sender.run(self.stop)))
        if self.worker == 0:
            tasks.append(asyncio.create_task(self._anchor(self.stop)))
        tasks.append(asyncio.create_task(self._follow_agreements()))
        if self.worker == 0:
            await self._announce_versions()
        try:
            await self.stop.wait()
            for server in self.servers:
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._stop_notifying()
            if self.cot is not None:
                await self.cot.close()
            if self.feed is not None:
                await self.feed.close()

    async def _anchor(self, stop: asyncio.Event) -> None:
        """Anchor the audit trail at the partners every audit_anchor_s seconds, or sooner once
        audit_anchor_entries entries have come since the last anchor (services/audit_anchors.py)."""
        settings, last, since = self.node.settings, 0, 0.0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(settings.audit_anchor_s, 0.5))
            since += min(settings.audit_anchor_s, 0.5)
            try:
                count = await self.node.read(audit.entry_count, self.node)
                if count - last >= settings.audit_anchor_entries or (since >= settings.audit_anchor_s and count > last):
                    anchored = await self.node.write(audit_anchors.anchor, self.node)
                    last, since = anchored or count, 0.0
            except Exception:  # the store unavailable for a while: try again at the next turn
                log.exception("%s node: cannot anchor the audit trail", self.node.party)

    async def _announce_versions(self) -> None:
        """Our versions of the agreements to the partners that have not told us they hold the same."""
        try:
            told = await self.node.write(agreement_events.announce_untold, self.node)
        except Exception:  # the store may be busy at start: the next change announces anyway
            log.exception("%s node: cannot announce its agreement versions", self.node.party)
            return
        if told:
            log.info("%s node: its agreement versions told to %s", self.node.party,
                     ", ".join(f"{party} ({agreement})" for party, agreement in told))

    async def _follow_agreements(self) -> None:
        """Agreement events written by another process (`gsomia agreements notice` beside the server) apply
        here within AGREEMENTS_POLL_S: one small read when nothing changed (services.agreement_events.refresh)."""
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), AGREEMENTS_POLL_S)
                return
            try:
                await asyncio.to_thread(agreement_events.refresh, self.node)
            except Exception:  # a store hiccup must not stop the node; the next poll retries
                log.exception("%s node: cannot re-read the agreement events", self.node.party)

    async def started(self) -> None:
        while not (self.feed_started.is_set() and all(s.started for s in self.servers)):
            await asyncio.sleep(0.02)
