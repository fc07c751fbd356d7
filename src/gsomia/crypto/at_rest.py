"""Content at rest: what the storage layer calls. An item is sealed to the node itself, so it is
stored only as an envelope (label bound, signed) and opened only with the node's key ring.

Plaintext is never written to disk or to a log by this layer; callers must not either.
"""

from __future__ import annotations

from datetime import datetime

from gsomia.crypto.envelope import ECDH_SS, Opened, open_envelope, seal
from gsomia.crypto.keyring import KeyRing


def seal_at_rest(plaintext: bytes, *, label: bytes, ring: KeyRing, at: datetime | None = None) -> bytes:
    """Seal to the node's own current key. ECDH-SS with itself costs one cached exchange."""
    return seal(plaintext, label=label, sender=ring, recipients=[ring.current.public], at=at,
                key_agreement=ECDH_SS)


def open_at_rest(stored: bytes, *, ring: KeyRing) -> Opened:
    """Open what `seal_at_rest` stored, with any generation still on the ring; InvalidEnvelope otherwise."""
    return open_envelope(stored, recipient=ring, senders=ring)
