"""TLS listeners for the node's HTTP ports (uvicorn), with the TLS context the crypto layer built
(crypto.pki: TLS 1.3, client certificates required on the peer port), and the peer's certificate
handed to the application so each request is pinned to the partner node it came from.

uvicorn does not put the TLS peer certificate into the ASGI scope; this protocol class copies it into
the connection's `state` (Starlette's `request.state.peer_certificate`, DER bytes) once the handshake
is done. asyncio calls `connection_made` after the TLS handshake, so the certificate is known there.
The HTTP parser is httptools (llhttp, as in Node.js): uvicorn's fast path, used on every listener.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PEER_CERTIFICATE = "peer_certificate"


class PeerCertificateProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        # Per connection: a copy, so one peer's certificate never shows in another's requests.
        self.app_state = {**self.app_state, PEER_CERTIFICATE: der}


@dataclass(frozen=True)
class Listener:
    """One TLS listener, serving with `tls` (crypto.pki.server_context). Proxy headers (X-Forwarded-For,
    -Proto) are believed only from `trusted_proxies`: by default the caller is the TCP peer, whatever it
    claims (uvicorn would otherwise believe loopback peers)."""

    host: str
    port: int
    tls: ssl.SSLContext
    trusted_proxies: Sequence[str] = ()

    def uvicorn_config(self, app: Any) -> uvicorn.Config:
        return uvicorn.Config(
            app, host=self.host, port=self.port, http=PeerCertificateProtocol, lifespan="off",
            ssl_context_factory=lambda _config, _default: self.tls,
            proxy_headers=bool(self.trusted_proxies), forwarded_allow_ips=list(self.trusted_proxies) or None,
            # Partners keep idle connections open; at shutdown those are simply closed, which is no error.
            log_level="critical", access_log=False, timeout_graceful_shutdown=1,
        )

    def shared_socket(self) -> socket.socket:
        """A listening socket on host:port that the node's other worker processes bind as well (SO_REUSEPORT,
        which Linux allows only to processes of the same user): the kernel spreads the connections over them.
        Only for `gsomia serve --workers N`: a lone server binds without it, so a second one fails to start."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.host, self.port))
            sock.listen(2048)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock
