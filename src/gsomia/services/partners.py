"""The partner nodes this node federates with: DATA/peers.toml plus each partner's exported public document.

    [[peers]]
    party = "JPN"
    url = "https://127.0.0.1:9302"        # the partner's peer endpoint (mutual TLS)
    public = "peers/JPN.json"             # `gsomia keys export-public` of the partner node
    feed_url = "wss://127.0.0.1:9302"     # optional: push our missile-warning feed to this partner

`feed_url` is the partner's feed endpoint (TLS, our node certificate as client certificate). It is
given only for the partners the ministries agreed to link the feed to (e.g. KOR → USA hub → JPN under
TISA); its host must be the peer url's host, so the same pinned TLS certificate serves both.

From the public document come the partner's signing and sealing keys, its TLS certificate's pinned
SHA-256 fingerprint, and its national root (the only roots our peer listener accepts clients from).
"""

from __future__ import annotations

import functools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gsomia.crypto import CryptoError, KeyDirectory, PublicKeys

PEERS_FILE = "peers.toml"


class PeerConfigError(ValueError):
    """peers.toml or a partner's public document is missing or wrong; the message says which."""


@dataclass(frozen=True)
class Peer:
    party: str
    url: str
    keys: PublicKeys
    tls_fingerprint: str
    root_pem: bytes
    feed_url: str | None = None


@dataclass(frozen=True)
class Partners:
    by_party: dict[str, Peer]

    @classmethod
    def none(cls) -> Partners:
        """A node that knows no partner (yet): it federates with nobody."""
        return cls({})

    @functools.cached_property
    def directory(self) -> KeyDirectory:
        """Every partner's keys, to verify what they sign (built once: it is consulted per message)."""
        return KeyDirectory(p.keys for p in self.by_party.values())

    def get(self, party: str) -> Peer | None:
        return self.by_party.get(party)

    def party_of_fingerprint(self, fingerprint: str) -> str | None:
        for peer in self.by_party.values():
            if peer.tls_fingerprint == fingerprint:
                return peer.party
        return None

    def roots_bundle(self) -> bytes:
        return b"".join(p.root_pem for p in self.by_party.values())


def peer_from_document(party: str, url: str, document: dict[str, Any], feed_url: str | None = None) -> Peer:
    try:
        keys = PublicKeys.from_dict(document)
        fingerprint = str(document["tls_fingerprint_sha256"]).lower().replace(":", "")
        root = str(document["root_certificate"]).encode()
    except (CryptoError, KeyError) as bad:
        raise PeerConfigError(f"peer {party}: public document unusable: {bad}") from None
    if keys.party != party:
        raise PeerConfigError(f"peer {party}: its public document is for {keys.party}")
    if not url.startswith("https://"):
        raise PeerConfigError(f"peer {party}: url must be https:// (mutual TLS), not {url!r}")
    return Peer(party, url.rstrip("/"), keys, fingerprint, root, _feed_url(party, url, feed_url))


def _feed_url(party: str, url: str, feed_url: str | None) -> str | None:
    if not feed_url:
        return None
    feed = urlsplit(feed_url)
    if feed.scheme != "wss":
        raise PeerConfigError(f"peer {party}: feed_url must be wss:// (TLS), not {feed_url!r}")
    try:
        port = feed.port
    except ValueError:
        port = None
    if port is None or feed.hostname != urlsplit(url).hostname:
        raise PeerConfigError(f"peer {party}: feed_url must name a port on the peer url's host"
                              f" ({urlsplit(url).hostname}), not {feed_url!r}")
    return feed_url.rstrip("/")


def load_partners(data_dir: Path) -> Partners:
    path = data_dir / PEERS_FILE
    if not path.exists():
        return Partners({})
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        peers = {}
        for entry in config.get("peers", []):
            party, url = str(entry["party"]), str(entry["url"])
            document_path = data_dir / str(entry["public"])
            feed_url = str(entry["feed_url"]) if entry.get("feed_url") else None
            peers[party] = peer_from_document(party, url, json.loads(document_path.read_text(encoding="utf-8")),
                                              feed_url)
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as bad:
        if isinstance(bad, PeerConfigError):
            raise
        raise PeerConfigError(f"{path}: {bad}") from None
    return Partners(peers)


def add_peer(data_dir: Path, party: str, url: str, document: dict[str, Any], feed_url: str | None = None) -> Peer:
    """Record a partner: validate its document, keep a copy in DATA/peers/, list it in peers.toml."""
    peer = peer_from_document(party, url, document, feed_url)
    folder = data_dir / "peers"
    folder.mkdir(exist_ok=True)
    (folder / f"{party}.json").write_text(json.dumps(document, indent=2, sort_keys=True), encoding="utf-8")
    path = data_dir / PEERS_FILE
    existing = tomllib.loads(path.read_text(encoding="utf-8")).get("peers", []) if path.exists() else []
    entry = {"party": party, "url": peer.url, "public": f"peers/{party}.json"}
    if peer.feed_url:
        entry["feed_url"] = peer.feed_url
    entries = [e for e in existing if e.get("party") != party] + [entry]
    # json.dumps gives valid TOML basic strings (the same escapes).
    path.write_text("".join("[[peers]]\n" + "".join(f"{key} = {json.dumps(str(value))}\n" for key, value in e.items())
                            + "\n" for e in entries), encoding="utf-8")
    return peer
