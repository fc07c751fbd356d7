"""The crypto layer in the shapes other layers already declared (services.context.ContentSealer,
services.audit_chain.CheckpointSigner / SignatureCheck), so they can switch from their interim
stand-ins when the lead wires them. Nothing here is activated by importing `gsomia.crypto`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gsomia.crypto import _cose
from gsomia.crypto.at_rest import open_at_rest, seal_at_rest
from gsomia.crypto.errors import CryptoError, InvalidEnvelope
from gsomia.crypto.keyring import KeyRing
from gsomia.crypto.keys import PublicKeys


class RingSealer:
    """`ContentSealer`: content sealed to the node itself, its label bound and checked on open."""

    def __init__(self, ring: KeyRing, clock: Callable[[], datetime] | None = None) -> None:
        self._ring, self._clock = ring, clock

    def seal(self, label_bytes: bytes, plaintext: bytes) -> bytes:
        return seal_at_rest(plaintext, label=label_bytes, ring=self._ring,
                            at=self._clock() if self._clock else None)

    def open(self, label_bytes: bytes, blob: bytes) -> bytes:
        opened = open_at_rest(blob, ring=self._ring)
        if opened.label != label_bytes:
            raise InvalidEnvelope("the stored item was sealed under another label")
        return opened.plaintext


class RingCheckpointSigner:
    """`CheckpointSigner`: signs with the ring's current key; key_id names the generation."""

    def __init__(self, ring: KeyRing) -> None:
        self._keys = ring.current

    @property
    def key_id(self) -> str:
        return f"gsomia:{self._keys.party}:{self._keys.kid.hex()}"

    def sign(self, data: bytes) -> bytes:
        return self._keys.signer.sign(data)


def signature_check(public: PublicKeys) -> Callable[[bytes, bytes], None]:
    """`SignatureCheck` for raw signatures by `public`'s key (EdDSA; raw r||s for ES256)."""

    def check(data: bytes, signature: bytes) -> None:
        try:
            _cose.verify_signature(public.alg, public.verify_key, signature, data)
        except _cose.CoseError as exc:
            raise CryptoError(str(exc)) from None

    return check


__all__ = ["RingCheckpointSigner", "RingSealer", "signature_check"]
