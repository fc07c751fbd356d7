"""The interim checkpoint signer and the signature check built from public key bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gsomia.services import signing
from gsomia.services.errors import InvalidInput


def test_the_node_signer_persists_and_verifies(tmp_path: Path) -> None:
    signer = signing.node_signer(tmp_path)
    again = signing.node_signer(tmp_path)
    assert signer.key_id == again.key_id
    public = signing.node_public_key(tmp_path)
    assert public is not None and (tmp_path / signing.INTERIM_KEY).stat().st_mode & 0o077 == 0
    check = signing.signature_check(public)
    check(b"payload", again.sign(b"payload"))
    with pytest.raises(Exception):  # noqa: B017 - any error from the check means "not accepted"
        check(b"other payload", signer.sign(b"payload"))


def test_public_keys_in_every_accepted_form() -> None:
    for _ in range(64):  # raw keys are never stripped, whatever bytes they start or end with
        key = Ed25519PrivateKey.generate()
        raw = key.public_key().public_bytes_raw()
        pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        for form in (raw, raw.hex().encode() + b"\n", pem):
            signing.signature_check(form)(b"x", key.sign(b"x"))
    with pytest.raises(InvalidInput):
        signing.signature_check(b"not a key")
    awkward = bytes([0x20, ord("{")]) + bytes(30)  # starts like whitespace and JSON, yet a raw key
    assert callable(signing.signature_check(awkward))  # read as a raw key, not as a JSON document


def test_with_a_crypto_keystore_the_node_key_signs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gsomia.crypto import init_keystore

    init_keystore(tmp_path, "KOR", "kor-node", passphrase=b"test passphrase")
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE", "test passphrase")
    signer = signing.node_signer(tmp_path / "keys")
    assert signer.key_id.startswith("gsomia:KOR:")
    public = signing.node_public_key(tmp_path / "keys")
    assert public is not None and not (tmp_path / "keys" / signing.INTERIM_KEY).exists()
    signing.signature_check(public)(b"payload", signer.sign(b"payload"))
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE", "wrong")
    with pytest.raises(InvalidInput, match="signing key"):
        signing.node_signer(tmp_path / "keys")
    with pytest.raises(InvalidInput, match="public key document"):
        signing.signature_check(b'{"format": "something else"}')


def test_checkpoints_signed_before_a_rotation_or_a_retirement_still_verify(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gsomia.crypto import init_keystore, retire_key, rotate_keystore

    init_keystore(tmp_path, "KOR", "kor-node", passphrase=b"test passphrase")
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE", "test passphrase")
    first = signing.node_signer(tmp_path / "keys")
    old_signature = first.sign(b"checkpoint 1")
    old_kid = first.key_id.rsplit(":", 1)[1]
    rotate_keystore(tmp_path, passphrase=b"test passphrase")
    second = signing.node_signer(tmp_path / "keys")
    assert second.key_id != first.key_id
    public = signing.node_public_key(tmp_path / "keys")
    assert public is not None
    check = signing.signature_check(public)
    check(b"checkpoint 1", old_signature)  # the older generation, still held
    check(b"checkpoint 2", second.sign(b"checkpoint 2"))
    retire_key(tmp_path, old_kid)
    retired_public = signing.node_public_key(tmp_path / "keys")
    assert retired_public is not None
    signing.signature_check(retired_public)(b"checkpoint 1", old_signature)  # its public half is kept on record
    with pytest.raises(Exception):  # noqa: B017 - but a signature by no key of ours is refused
        signing.signature_check(retired_public)(b"checkpoint 1", Ed25519PrivateKey.generate().sign(b"checkpoint 1"))
    with pytest.raises(InvalidInput, match="no public key"):
        signing.signature_check(b"[]")
