"""Secrets derived from the node's keys for its own use (never shared): the same after a restart, new
after a key rotation. HKDF-SHA256 (RFC 5869) over the current generation's X25519 private key, with a
context string that names the use, so that no two uses share a key and none reveals the private key."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gsomia.crypto.keyring import KeyRing

SALT = b"gsomia derived secret v1"


def derived_secret(ring: KeyRing, context: bytes, length: int = 32) -> bytes:
    """A secret for `context` (e.g. b"taxii cursor"), from the ring's current key."""
    raw = ring.current.agreement.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                               serialization.NoEncryption())
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=SALT, info=context).derive(raw)
