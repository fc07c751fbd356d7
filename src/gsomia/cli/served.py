"""The CLI's way to the node's own running listeners (`gsomia health`, `gsomia feed post|tail`): where they
are, and a TLS context that accepts this node's own TLS certificate and nothing else.

The certificate is pinned exactly (the one in DATA/keys, trusted as it stands, without a host name check),
so the CLI talks to its own node, wherever `host` points, and never to another server on that port.
"""

from __future__ import annotations

import socket
import ssl

from gsomia.config import Settings

ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def local_host(settings: Settings) -> str:
    """Where to reach a listener bound to `host` from this machine."""
    return ANY_ADDRESS.get(settings.host, settings.host)


def feed_url(settings: Settings) -> str:
    host = local_host(settings)
    return f"wss://{f'[{host}]' if ':' in host else host}:{settings.feed_port}"


def own_tls_context(settings: Settings) -> ssl.SSLContext:
    """Trusts exactly the node's own TLS certificate (public: no passphrase needed)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False  # the certificate itself is pinned, which says more than a name
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a leaf in the trust store is trusted as it stands
    context.load_verify_locations(cadata=(settings.effective_keys_dir / "tls.crt.pem").read_text(encoding="ascii"))
    return context


def serving(settings: Settings, port: int, timeout: float = 1.0) -> bool:
    """Whether this node (its own certificate, by TLS handshake) listens on `port`; nothing is sent."""
    try:
        with socket.create_connection((local_host(settings), port), timeout=timeout) as raw, \
                own_tls_context(settings).wrap_socket(raw):
            return True
    except (OSError, ssl.SSLError):
        return False
