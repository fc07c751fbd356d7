"""Who a feed node takes batches from and connects to: its peers, the admission a running node adds, the
TLS certificate a connection presented, and partners' written consents as a link's control message.

Trust is explicit: batches are accepted only from node ids whose public key the node was given (`Peer`).
A running node (`gsomia.feed.served`) adds an `Admission`, which asks the services: a push must come with
the partner's pinned TLS client certificate, a pull or a post (`posting`) with an official's personal token.
Partners' written consents (T5) travel as their signed records in a control message on push links,
`{"consents": [hex, …]}`, before any batch that needs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.crypto import fingerprint
from gsomia.domain.officials import Official
from gsomia.feed.posting import Poster

CertificatePin = Callable[[bytes | None], bool]


@dataclass(frozen=True, slots=True)
class Peer:
    """A node (or sensor) this node accepts batches from."""

    node_id: str
    party: str
    key: Ed25519PublicKey


class Admission(Protocol):
    """Who may connect beyond the node's static lists (a running node: certificates and tokens)."""

    def push(self, node_id: str, certificate: bytes | None) -> bool:
        """May `node_id` push, over a connection whose TLS client certificate (DER) is `certificate`?"""
        ...

    async def pull(self, reader_id: str, authorization: str | None) -> Official | None:
        """The official a subscriber reads as, from its `Authorization` header; None refuses."""
        ...

    async def post(self, authorization: str | None) -> Poster | None:
        """What answers an official's posted batches (`gsomia.feed.posting`), from its `Authorization`
        header; None refuses."""
        ...


def peer_certificate(ws: object) -> bytes | None:
    """The TLS peer certificate (DER) of a WebSocket connection, if it presented one."""
    transport = getattr(ws, "transport", None)
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return der if isinstance(der, bytes) else None


def pinned_to(expected: str) -> CertificatePin:
    """A link's check of the partner's TLS certificate against the fingerprint pinned in peers.toml."""
    return lambda der: der is not None and fingerprint(der) == expected


def consents_message(records: list[bytes]) -> str:
    return json.dumps({"consents": [r.hex() for r in records]})


def consent_records(values: list[Any]) -> list[bytes]:
    """The signed records of a consents message; an unreadable one is the same as absent (default deny)."""
    out: list[bytes] = []
    for value in values:
        try:
            out.append(bytes.fromhex(value) if isinstance(value, str) else b"")
        except ValueError:
            continue
    return [r for r in out if r]
