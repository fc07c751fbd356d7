"""A running node: the officials' API (TLS), the peer endpoint (mutual TLS), the outbox sender and the
missile-warning feed (WebSocket over TLS on feed_port; see gsomia.feed.served), in one loop."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from gsomia.api.app import create_app
from gsomia.api.routes import exchange as exchange_routes
from gsomia.api.routes import feed as feed_routes
from gsomia.crypto import passphrase_from_env
from gsomia.federation.peer_app import create_peer_app
from gsomia.federation.sender import Sender
from gsomia.federation.tls import Listener
from gsomia.feed.errors import FeedError
from gsomia.feed.served import NodeFeed
from gsomia.services.partners import Partners
from gsomia.services.runtime import Node

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoints:
    api_url: str
    peer_url: str
    feed_url: str


def tls_paths(node: Node) -> tuple[Path, Path, Path]:
    keys = node.settings.effective_keys_dir
    return keys / "tls.crt.pem", keys / "tls.key.pem", keys / "root.crt.pem"


def partner_roots(node: Node, partners: Partners) -> Path:
    """The partners' national roots, one bundle: the only issuers the peer listener and sender accept."""
    path = node.settings.data_dir / "peers" / "partner-roots.pem"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(partners.roots_bundle())
    return path


def client_context(node: Node, partners: Partners, passphrase: bytes) -> ssl.SSLContext:
    certificate, key, _ = tls_paths(node)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(certificate, key, password=passphrase)
    bundle = partners.roots_bundle()
    if bundle:
        context.load_verify_locations(cadata=bundle.decode())
    return context


def feed_server_context(node: Node, partners: Partners, passphrase: bytes) -> ssl.SSLContext:
    """The feed listener's TLS: the node's certificate; a client certificate from a partner's root is
    asked for but optional (subscribers present a token instead); pushes require it (NodeFeed.push)."""
    certificate, key, _ = tls_paths(node)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(certificate, key, password=passphrase)
    bundle = partners.roots_bundle()
    if bundle:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=bundle.decode())
    return context


class NodeServer:
    def __init__(self, node: Node, partners: Partners, *, passphrase: bytes | None = None) -> None:
        self.node, self.partners = node, partners
        self.passphrase = passphrase if passphrase is not None else passphrase_from_env()
        settings = node.settings
        certificate, key, _ = tls_paths(node)
        roots = partner_roots(node, partners)
        api_app = create_app(node, extra_routers=(exchange_routes.router, feed_routes.router))
        api_app.state.partners = partners
        client_tls = client_context(node, partners, self.passphrase)
        self.feed: NodeFeed | None = None
        try:
            self.feed = NodeFeed(node, partners, client_context=client_tls,
                                 server_context=feed_server_context(node, partners, self.passphrase))
        except FeedError as no_feed:  # e.g. a PKCS#11 ECDSA signing key: the node serves all but the feed
            log.warning("%s node: no missile-warning feed: %s", node.party, no_feed)
        if self.feed is not None:
            feed: feed_routes.TrackFeed = self.feed  # checked here: the API knows the feed only by this protocol
            api_app.state.feed = feed
        api = Listener(settings.host, settings.api_port, certificate, key, self.passphrase.decode())
        peer = Listener(settings.host, settings.peer_port, certificate, key, self.passphrase.decode(),
                        client_ca=roots if partners.by_party else None)
        peer_app = create_peer_app(node, partners)
        self.servers = [uvicorn.Server(api.uvicorn_config(api_app)), uvicorn.Server(peer.uvicorn_config(peer_app))]
        self.sender = Sender(node, partners, client_tls)
        # Whatever writes to the outbox in this process wakes the sender, until the server stops.
        self._stop_notifying = node.ctx.store.call_when_enqueued(self.sender.notify)
        self.endpoints = Endpoints(f"https://{settings.host}:{settings.api_port}",
                                   f"https://{settings.host}:{settings.peer_port}",
                                   f"wss://{settings.host}:{settings.feed_port}")
        self.stop = asyncio.Event()
        self.feed_started = asyncio.Event()

    async def run(self) -> None:
        if self.feed is not None:
            await self.feed.start()
        self.feed_started.set()
        tasks = [asyncio.create_task(s.serve()) for s in self.servers]
        tasks.append(asyncio.create_task(self.sender.run(self.stop)))
        try:
            await self.stop.wait()
            for server in self.servers:
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._stop_notifying()
            if self.feed is not None:
                await self.feed.close()

    async def started(self) -> None:
        while not (self.feed_started.is_set() and all(s.started for s in self.servers)):
            await asyncio.sleep(0.02)
