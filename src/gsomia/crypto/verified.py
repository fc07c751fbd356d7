"""Signatures this process made or checked, so that the very same bytes are not verified twice.

Envelopes and signed records are opened again and again: the item this node sealed at rest, released
or read later; a consent carried in every release it covers; the records of a batch signed once over a
Merkle root (records.py), which share one signature over the same bytes. Each is remembered by SHA-256
of (signer's key, signed bytes, signature). Only a signature made here or one that verified goes in,
and any changed byte changes the digest, so nothing counts as verified that was not; a signer the
caller no longer trusts is refused before the memo is asked. Bounded: the oldest half is dropped when
full. One Ed25519 verification costs 0.12–0.17 ms on this machine, a lookup about 1 µs.
"""

from __future__ import annotations

import hashlib
import threading

from gsomia.crypto import _cose
from gsomia.crypto.keys import PublicKeys


class VerifiedSignatures:
    def __init__(self, limit: int = 16384) -> None:
        self._limit = limit
        self._digests: dict[bytes, None] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(signer: PublicKeys, to_be_signed: bytes, signature: bytes) -> bytes:
        return hashlib.sha256(b"".join((signer.verify_digest, len(to_be_signed).to_bytes(8), to_be_signed,
                                        signature))).digest()

    def holds(self, signer: PublicKeys, to_be_signed: bytes, signature: bytes) -> bool:
        return self._digest(signer, to_be_signed, signature) in self._digests

    def add(self, signer: PublicKeys, to_be_signed: bytes, signature: bytes) -> None:
        digest = self._digest(signer, to_be_signed, signature)
        with self._lock:
            if len(self._digests) >= self._limit:
                for old in list(self._digests)[:self._limit // 2]:
                    del self._digests[old]
            self._digests[digest] = None

    def verify(self, signer: PublicKeys, to_be_signed: bytes, signature: bytes) -> None:
        """CoseError unless `signature` is `signer`'s over `to_be_signed`; checked once per process."""
        if not self.holds(signer, to_be_signed, signature):
            _cose.verify_signature(signer.alg, signer.verify_key, signature, to_be_signed)
            self.add(signer, to_be_signed, signature)


VERIFIED = VerifiedSignatures()
