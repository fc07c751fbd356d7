"""Signing with a key that never leaves a PKCS#11 token (an HSM; SoftHSM2 in tests and demos).

Ed25519 (CKM_EDDSA) where the token offers it, as SoftHSM2 ≥ 2.6 does; otherwise ECDSA P-256
(CKM_ECDSA over a SHA-256 digest, COSE alg ES256). The algorithm is carried in every signature's
COSE `alg` header and is part of the key id (which hashes the SubjectPublicKeyInfo), so a verifier
never has to guess it. `python-pkcs11` is imported only when a token is used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.crypto import _cose
from gsomia.crypto.errors import CryptoError
from gsomia.crypto.keys import VerifyKey

SOFTHSM2_LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"
_ED25519_OID = "1.3.101.112"


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:  # pragma: no cover - depends on the environment
        raise CryptoError("python-pkcs11 is not installed (pip install python-pkcs11)") from None
    return pkcs11


@dataclass(frozen=True)
class Pkcs11Token:
    """Where a node's token is: the PKCS#11 module (the vendor's library), the token's label and its user PIN
    (from the environment or a file, never from the settings file). Keys on it are found by label."""

    module: str
    token_label: str
    pin: str = field(repr=False)

    def signer(self, key_label: str) -> Pkcs11Signer:
        return Pkcs11Signer(library=self.module, token_label=self.token_label, pin=self.pin, key_label=key_label)

    def signer_or_new(self, key_label: str) -> Pkcs11Signer:
        """The key pair labelled `key_label` on the token, generated there (Ed25519 if it can) if it has none."""
        try:
            return self.signer(key_label)
        except CryptoError:
            return Pkcs11Signer.generate(library=self.module, token_label=self.token_label, pin=self.pin,
                                         key_label=key_label)


class Pkcs11Signer:
    """A `Signer` whose private key lives on a token. Holds one open session for its lifetime."""

    def __init__(self, *, library: str = SOFTHSM2_LIBRARY, token_label: str, pin: str, key_label: str) -> None:
        p11 = _pkcs11()
        try:
            token = p11.lib(library).get_token(token_label=token_label)
            self._session = _open_session(p11, token, pin, rw=False)
            self._private = self._session.get_key(object_class=p11.ObjectClass.PRIVATE_KEY, label=key_label)
            public = self._session.get_key(object_class=p11.ObjectClass.PUBLIC_KEY, label=key_label)
        except p11.PKCS11Error as exc:
            raise CryptoError(f"PKCS#11 token {token_label!r}, key {key_label!r}: {type(exc).__name__}") from None
        self._mechanism: Any
        if self._private.key_type == p11.KeyType.EC_EDWARDS:
            self.alg, self._mechanism = _cose.EDDSA, p11.Mechanism.EDDSA
        elif self._private.key_type == p11.KeyType.EC:
            self.alg, self._mechanism = _cose.ES256, p11.Mechanism.ECDSA
        else:
            raise CryptoError("PKCS#11 key is neither Ed25519 nor ECDSA")
        self._public = _public_key(p11, public, self.alg)

    @classmethod
    def generate(cls, *, library: str = SOFTHSM2_LIBRARY, token_label: str, pin: str, key_label: str,
                 prefer_ed25519: bool = True) -> Pkcs11Signer:
        """Create a key pair on the token (Ed25519 if the token can, else P-256) and open it."""
        p11 = _pkcs11()
        from pkcs11.util.ec import encode_named_curve_parameters

        token = p11.lib(library).get_token(token_label=token_label)
        mechanisms = token.slot.get_mechanisms()
        use_ed25519 = prefer_ed25519 and p11.Mechanism.EDDSA in mechanisms
        key_type, curve = (p11.KeyType.EC_EDWARDS, _ED25519_OID) if use_ed25519 else (p11.KeyType.EC, "secp256r1")
        with _open_session(p11, token, pin, rw=True) as session:
            params = session.create_domain_parameters(
                key_type, {p11.Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True)
            params.generate_keypair(store=True, label=key_label)
        return cls(library=library, token_label=token_label, pin=pin, key_label=key_label)

    def sign(self, data: bytes) -> bytes:
        if self.alg == _cose.EDDSA:
            return bytes(self._private.sign(data, mechanism=self._mechanism))
        # CKM_ECDSA signs a digest and returns r || s, which is already COSE's ES256 form.
        return bytes(self._private.sign(hashlib.sha256(data).digest(), mechanism=self._mechanism))

    def public_key(self) -> VerifyKey:
        return self._public

    def close(self) -> None:
        self._session.close()


def _open_session(p11: Any, token: Any, pin: str, *, rw: bool) -> Any:
    try:
        return token.open(user_pin=pin, rw=rw)
    except p11.exceptions.UserAlreadyLoggedIn:
        # Login is per process and token: another signer's session already logged us in.
        return token.open(rw=rw)


def _public_key(p11: Any, public: Any, alg: int) -> VerifyKey:
    from pkcs11.util.ec import encode_ec_public_key

    point = bytes(public[p11.Attribute.EC_POINT])
    if alg == _cose.EDDSA:
        # EC_POINT is a DER OCTET STRING wrapping the 32-byte key (some tokens omit the wrapping).
        raw = point[2:] if len(point) == 34 and point[0] == 0x04 else point
        return Ed25519PublicKey.from_public_bytes(raw)
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_public_key(encode_ec_public_key(public))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CryptoError("PKCS#11 public key is not an EC key")
    return key
