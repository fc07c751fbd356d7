"""The node's checkpoint signer and the matching signature check, for audit checkpoints.

With a crypto keystore in the keys directory (`gsomia keys init`; passphrase from
GSOMIA_KEY_PASSPHRASE[_FILE]) checkpoints are signed by the node's current signing key through
gsomia.crypto.adapters, and checked against its public key document (`gsomia keys export`).
INTERIM fallback for a node whose keystore has not been created yet: a plain Ed25519 key file in
the 0700 keys directory, so checkpoints work from `gsomia init` on.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gsomia.crypto import CryptoError, PublicKeys, load_keyring, passphrase_from_env, public_history
from gsomia.crypto.adapters import RingCheckpointSigner
from gsomia.crypto.adapters import signature_check as crypto_signature_check
from gsomia.services.audit_chain import CheckpointSigner, SignatureCheck
from gsomia.services.errors import InvalidInput

INTERIM_KEY = "audit-checkpoint-interim.pem"
INTERIM_PUBLIC = "audit-checkpoint-interim.pub"  # 32 raw bytes: give it to partners and inspectors


KEYSTORE_MARKER = "node.json"  # written by gsomia.crypto's init_keystore


def node_signer(keys_dir: Path) -> CheckpointSigner:
    if not (keys_dir / KEYSTORE_MARKER).exists():
        return _InterimSigner(keys_dir)
    if keys_dir.name != "keys":  # gsomia.crypto's public API knows only DATA/keys
        raise InvalidInput(f"a crypto keystore must live in DATA/keys, not {keys_dir}")
    try:
        return RingCheckpointSigner(load_keyring(keys_dir.parent, passphrase=passphrase_from_env()))
    except CryptoError as bad:
        raise InvalidInput(f"cannot load the node's signing key: {bad}") from None


def node_public_key(keys_dir: Path) -> bytes | None:
    """The node's own public keys, as signature_check() takes them: every generation it has had
    (current, older, retired), so checkpoints signed before a rotation still verify; None if none yet."""
    if (keys_dir / KEYSTORE_MARKER).exists():
        if keys_dir.name != "keys":  # public_history() knows only DATA/keys
            return None
        try:
            return json.dumps(public_history(keys_dir.parent)).encode()
        except CryptoError:
            return None
    path = keys_dir / INTERIM_PUBLIC
    return path.read_bytes() if path.exists() else None


def signature_check(public_key: bytes) -> SignatureCheck:
    """A check for signatures by `public_key`: a gsomia public key document (JSON, from
    `gsomia keys export`) or a JSON list of them (a signature by any one counts), or an Ed25519 key
    as PEM, 64 hex digits or 32 raw bytes."""
    if len(public_key) != 32 and public_key.lstrip()[:1] in (b"{", b"["):  # 32 bytes: a raw key, whatever it holds
        try:
            parsed = json.loads(public_key)
            documents = parsed if isinstance(parsed, list) else [parsed]
            return _any_of([crypto_signature_check(PublicKeys.from_dict(d)) for d in documents])
        except (ValueError, TypeError, KeyError, CryptoError) as bad:
            raise InvalidInput(f"unreadable public key document: {bad}") from None
    key = _public_key(public_key)

    def check(data: bytes, signature: bytes) -> None:
        key.verify(signature, data)  # raises InvalidSignature

    return check


def _any_of(checks: list[SignatureCheck]) -> SignatureCheck:
    if not checks:
        raise InvalidInput("no public key in the document")

    def check(data: bytes, signature: bytes) -> None:
        for one in checks[:-1]:
            try:
                one(data, signature)
                return
            except Exception:  # noqa: BLE001, S112 - not this key: try the next
                continue
        checks[-1](data, signature)  # the last one's failure is the answer

    return check


def _public_key(public_key: bytes) -> Ed25519PublicKey:
    text = public_key.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInput("the public key is not an Ed25519 key")
        return key
    if len(public_key) == 32:  # raw bytes: never strip them, any byte value is possible
        return Ed25519PublicKey.from_public_bytes(public_key)
    try:
        raw = bytes.fromhex(text.decode("ascii"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidInput("the public key must be PEM, 64 hex digits or 32 raw bytes (Ed25519)")
    return Ed25519PublicKey.from_public_bytes(raw)


class _InterimSigner:
    def __init__(self, keys_dir: Path) -> None:
        path = keys_dir / INTERIM_KEY
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise InvalidInput(f"{path} is not an Ed25519 key")
        else:
            key = Ed25519PrivateKey.generate()
            path.touch(mode=0o600)  # created private before the key is written into it
            path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
            (keys_dir / INTERIM_PUBLIC).write_bytes(key.public_key().public_bytes_raw())
        self._key = key
        self.key_id = "interim-ed25519:" + key.public_key().public_bytes_raw().hex()[:16]

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)
