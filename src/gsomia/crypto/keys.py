"""A node's keys: one generation of a signing key and an X25519 key that peers seal to.

A generation is named by its key id (`kid`): the first 8 bytes of SHA-256 over the signing key's
SubjectPublicKeyInfo. The SPKI names the algorithm, so an Ed25519 key and a PKCS#11 ECDSA P-256
key can never share a kid, and a signing certificate alone is enough to compute it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from gsomia.crypto import _cose
from gsomia.crypto.errors import CryptoError

VerifyKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
PUBLIC_FORMAT = "gsomia-public-keys/1"
ALG_NAMES = {_cose.EDDSA: "EdDSA", _cose.ES256: "ES256"}


class Signer(Protocol):
    """Anything that signs for a node: a key in memory, or a PKCS#11 token (`Pkcs11Signer`)."""

    alg: int  # COSE algorithm identifier

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> VerifyKey: ...


class Ed25519Signer:
    alg = _cose.EDDSA

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.private_key = key

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    def public_key(self) -> VerifyKey:
        return self.private_key.public_key()


def spki(key: VerifyKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def alg_for(key: VerifyKey) -> int:
    if isinstance(key, Ed25519PublicKey):
        return _cose.EDDSA
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return _cose.ES256
    raise CryptoError("signing keys are Ed25519 or ECDSA P-256")


@dataclass(frozen=True, slots=True)
class PublicKeys:
    """What a peer publishes: who it is, how to check its signatures, what to seal to.

    `agree_key` is None when only a signing certificate is known: enough to verify, not to seal to.
    """

    party: str
    node: str
    verify_key: VerifyKey
    agree_key: X25519PublicKey | None
    kid: bytes = field(init=False)
    alg: int = field(init=False)
    agree_raw: bytes = field(init=False, repr=False)
    verify_digest: bytes = field(init=False, repr=False)  # SHA-256 of the verify key's SubjectPublicKeyInfo

    def __post_init__(self) -> None:
        object.__setattr__(self, "verify_digest", hashlib.sha256(spki(self.verify_key)).digest())
        object.__setattr__(self, "kid", self.verify_digest[:8])
        object.__setattr__(self, "alg", alg_for(self.verify_key))
        object.__setattr__(self, "agree_raw", self.agree_key.public_bytes_raw() if self.agree_key else b"")

    def public_key(self, kid: bytes) -> PublicKeys | None:
        return self if kid == self.kid else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PUBLIC_FORMAT,
            "party": self.party,
            "node": self.node,
            "kid": self.kid.hex(),
            "alg": ALG_NAMES[self.alg],
            "verify_key": base64.b64encode(spki(self.verify_key)).decode(),
            "agree_key": base64.b64encode(self.agree_raw).decode() if self.agree_key else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PublicKeys:
        try:
            if data.get("format") != PUBLIC_FORMAT:
                raise ValueError("not a gsomia public key document")
            verify_key = serialization.load_der_public_key(base64.b64decode(data["verify_key"]))
            if not isinstance(verify_key, (Ed25519PublicKey, ec.EllipticCurvePublicKey)):
                raise ValueError("verify key is neither Ed25519 nor ECDSA")
            keys = cls(
                party=str(data["party"]), node=str(data["node"]), verify_key=verify_key,
                agree_key=X25519PublicKey.from_public_bytes(base64.b64decode(data["agree_key"]))
                if data.get("agree_key") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CryptoError(f"unreadable public keys: {exc}") from None
        if "kid" in data and data["kid"] != keys.kid.hex():
            raise CryptoError("public keys: kid does not match the verify key")
        return keys

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


class NodeKeys:
    """One generation of a node's private keys. Caches X25519 shared secrets per peer key."""

    def __init__(self, party: str, node: str, signer: Signer, agreement: X25519PrivateKey,
                 created_at: datetime) -> None:
        self.party = party
        self.node = node
        self.signer = signer
        self.agreement = agreement
        self.created_at = created_at
        self.public = PublicKeys(party, node, signer.public_key(), agreement.public_key())
        self.kid = self.public.kid
        self._shared: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def generate(cls, party: str, node: str, *, at: datetime | None = None,
                 signer: Signer | None = None) -> NodeKeys:
        return cls(party, node, signer or Ed25519Signer(Ed25519PrivateKey.generate()),
                   X25519PrivateKey.generate(), at or datetime.now(timezone.utc))

    def __repr__(self) -> str:
        return f"NodeKeys({self.party}/{self.node}, kid={self.kid.hex()})"

    def shared_secret(self, peer: PublicKeys) -> bytes:
        """Static-static X25519 secret with a peer, computed once per peer key (see envelope.py)."""
        secret = self._shared.get(peer.agree_raw)
        if secret is None:
            if peer.agree_key is None:
                raise CryptoError(f"no agreement key known for {peer.party}/{peer.node} ({peer.kid.hex()})")
            secret = exchange(self.agreement, peer.agree_key)
            with self._lock:
                if len(self._shared) > 4096:  # peers are few; a bound stops an attacker growing it
                    self._shared.clear()
                self._shared[peer.agree_raw] = secret
        return secret


def exchange(private: X25519PrivateKey, public: X25519PublicKey) -> bytes:
    try:
        return private.exchange(public)
    except ValueError:  # a low-order point gives the all-zero secret, which OpenSSL refuses
        raise CryptoError("peer key agreement failed") from None


class KeyDirectory:
    """Peers' published keys by kid: who is trusted to have signed (and sealed)."""

    def __init__(self, keys: Iterable[PublicKeys] = ()) -> None:
        self._by_kid: dict[bytes, PublicKeys] = {}
        for k in keys:
            self.add(k)

    def add(self, keys: PublicKeys) -> None:
        self._by_kid[keys.kid] = keys

    def public_key(self, kid: bytes) -> PublicKeys | None:
        return self._by_kid.get(kid)

    def __iter__(self) -> Any:
        return iter(self._by_kid.values())

    def __len__(self) -> int:
        return len(self._by_kid)


class TrustedKeys(Protocol):
    """Where `open` and `verify_record` look a signer up: a KeyDirectory, a KeyRing, one PublicKeys."""

    def public_key(self, kid: bytes) -> PublicKeys | None: ...

