"""gsomia's own published vectors (tests/crypto/vectors/*.json), checked two ways.

Each envelope vector fixes every input: the parties' keys (Ed25519 seeds, X25519 private keys),
the key agreement, the sealing time, the label, the plaintext, and the random bytes `seal` draws,
in the order it draws them (IV and, with several recipients, the content key; then per recipient a
16-byte salt for ECDH-SS; with ECDH-ES the ephemeral private key is given separately).

1. `seal` with exactly those inputs must reproduce `envelope_hex` byte for byte, and `open` must
   give back the label and plaintext.
2. A second implementation written here from the layout in `gsomia.crypto.envelope`'s docstring,
   using only cbor2 and `cryptography` (its own HKDF class, key unwrap and AES-GCM; nothing from
   `gsomia.crypto`), must verify and decrypt the same bytes. Another implementation can do the same
   from the JSON alone.

Record vectors do likewise for a signed destruction certificate.

Regenerate (only when the format deliberately changes, and bump the version):
    .venv/bin/python -m tests.crypto.test_own_vectors --regenerate
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

from gsomia.crypto import KeyDirectory, NodeKeys, open, sign_record, verify_record
from gsomia.crypto.envelope import seal_with
from gsomia.crypto.keys import Ed25519Signer

VECTORS = Path(__file__).resolve().parent / "vectors"
LABEL = ('{"classification":"KOR:II","created_at":"2026-11-22T00:00:00Z","format":"gsomia-label/1",'
         '"originator":"KOR","policy":"KOR","purpose":"test vector","releasable_to":["JPN","KOR","USA"]}')


def _node(spec: dict[str, str]) -> NodeKeys:
    return NodeKeys(spec["party"], spec["node"],
                    Ed25519Signer(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(spec["ed25519_seed_hex"]))),
                    X25519PrivateKey.from_private_bytes(bytes.fromhex(spec["x25519_private_hex"])),
                    datetime.fromisoformat("2026-11-22T00:00:00+00:00"))


class _Stream:
    def __init__(self, data: bytes) -> None:
        self.data, self.used = data, 0

    def __call__(self, n: int) -> bytes:
        chunk = self.data[self.used:self.used + n]
        assert len(chunk) == n, "the vector's random stream ran out"
        self.used += n
        return chunk


def _seal(vector: dict[str, Any]) -> bytes:
    stream = _Stream(bytes.fromhex(vector["random_hex"]))
    ephemeral = vector.get("ephemeral_private_hex")
    envelope = seal_with(
        vector["plaintext"].encode(), label=vector["label"].encode(), sender=_node(vector["sender"]),
        recipients=[_node(r).public for r in vector["recipients"]],
        at=datetime.fromisoformat(vector["sealed_at"]), key_agreement=vector["key_agreement"], random=stream,
        ephemeral=X25519PrivateKey.from_private_bytes(bytes.fromhex(ephemeral)) if ephemeral else None)
    assert stream.used == len(stream.data), "the vector's random stream was not all used"
    return envelope


def _envelope_files() -> list[Path]:
    return sorted(VECTORS.glob("envelope-*.json"))


@pytest.mark.parametrize("path", _envelope_files(), ids=lambda p: p.stem)
def test_seal_reproduces_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    assert _seal(vector).hex() == vector["envelope_hex"]


@pytest.mark.parametrize("path", _envelope_files(), ids=lambda p: p.stem)
def test_open_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    envelope = bytes.fromhex(vector["envelope_hex"])
    sender = _node(vector["sender"])
    for spec in vector["recipients"]:
        opened = open(envelope, recipient=_node(spec), senders=KeyDirectory([sender.public]))
        assert opened.plaintext.decode() == vector["plaintext"] and opened.label.decode() == vector["label"]
        assert opened.sealed_at == datetime.fromisoformat(vector["sealed_at"])


@pytest.mark.parametrize("path", _envelope_files(), ids=lambda p: p.stem)
def test_second_implementation_opens_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    envelope = bytes.fromhex(vector["envelope_hex"])
    sender = vector["sender"]
    sender_sign = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sender["ed25519_seed_hex"])).public_key()
    sender_agree = X25519PrivateKey.from_private_bytes(bytes.fromhex(sender["x25519_private_hex"])).public_key()
    for spec in vector["recipients"]:
        mine = X25519PrivateKey.from_private_bytes(bytes.fromhex(spec["x25519_private_hex"]))
        label, plaintext, iat = independent_open(envelope, mine, spec["kid_hex"], sender_sign, sender_agree)
        assert (label.decode(), plaintext.decode()) == (vector["label"], vector["plaintext"])
        assert iat == int(datetime.fromisoformat(vector["sealed_at"]).timestamp())


def independent_open(envelope: bytes, mine: X25519PrivateKey, my_kid_hex: str, sender_sign: Ed25519PublicKey,
                     sender_agree: X25519PublicKey) -> tuple[bytes, bytes, int]:
    """The envelope layout, implemented again with nothing but cbor2 and cryptography."""
    version, body, sign1 = cbor2.loads(envelope)
    assert version == 1 and sign1.tag == 18
    protected, unprotected, payload, signature = sign1.value
    headers = cbor2.loads(protected)
    assert headers[1] == -8 and headers[258] == -16 and payload is None and not unprotected
    to_be_signed = cbor2.dumps(["Signature1", protected, b"gsomia-envelope/1", hashlib.sha256(body).digest()])
    sender_sign.verify(signature, to_be_signed)  # raises InvalidSignature
    encrypt = cbor2.loads(body)
    assert encrypt.tag == 96
    body_protected, body_unprotected, ciphertext, recipients = encrypt.value
    content_headers = cbor2.loads(body_protected)
    assert content_headers[1] == 3  # A256GCM
    for recipient_protected, recipient_headers, wrapped in recipients:
        if recipient_headers[4].hex() != my_kid_hex:
            continue
        alg = cbor2.loads(recipient_protected)[1]
        if alg in (-27, -34):  # ECDH-SS + HKDF-256, ECDH-SS + A256KW
            secret, salt = mine.exchange(sender_agree), recipient_headers[-20]
        else:  # ECDH-ES + HKDF-256 (-25), ECDH-ES + A256KW (-31)
            assert alg in (-25, -31)
            ephemeral = recipient_headers[-1]
            assert ephemeral[1] == 1 and ephemeral[-1] == 4
            secret, salt = mine.exchange(X25519PublicKey.from_public_bytes(ephemeral[-2])), None
        direct = alg in (-27, -25)
        context = cbor2.dumps([3 if direct else -5, [None, None, None], [None, None, None], [256, recipient_protected]])
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=context).derive(secret)
        content_key = key if direct else aes_key_unwrap(key, wrapped)
        aad = cbor2.dumps(["Encrypt", body_protected, b""])
        plaintext = AESGCM(content_key).decrypt(body_unprotected[5], ciphertext, aad)
        return content_headers[-65537], plaintext, headers[15][6]
    raise AssertionError("no recipient layer for this key")


@pytest.mark.parametrize("path", sorted(VECTORS.glob("record-*.json")), ids=lambda p: p.stem)
def test_record_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    signer = _node(vector["signer"])
    record = sign_record(vector["type"], vector["body"], signer=signer, at=datetime.fromisoformat(vector["signed_at"]))
    assert record.hex() == vector["record_hex"]
    verified = verify_record(record, trusted=signer.public)
    assert (verified.type, verified.body) == (vector["type"], vector["body"])
    # Independently: a COSE_Sign1 over the deterministic CBOR payload, external AAD "gsomia-record/1".
    sign1 = cbor2.loads(bytes.fromhex(vector["record_hex"]))
    protected, _, payload, signature = sign1.value
    seed = bytes.fromhex(vector["signer"]["ed25519_seed_hex"])
    Ed25519PrivateKey.from_private_bytes(seed).public_key().verify(
        signature, cbor2.dumps(["Signature1", protected, b"gsomia-record/1", payload]))
    assert cbor2.loads(payload)["body"] == vector["body"]


def _party(name: str, n: int) -> dict[str, str]:
    seed = hashlib.sha256(f"gsomia test vector {name} sign".encode()).hexdigest()
    agree = hashlib.sha256(f"gsomia test vector {name} agree".encode()).hexdigest()
    spec = {"party": name, "node": f"{name.lower()}-{n}", "ed25519_seed_hex": seed, "x25519_private_hex": agree}
    spec["kid_hex"] = _node(spec).kid.hex()
    return spec


def regenerate() -> None:
    kor, jpn, usa = _party("KOR", 1), _party("JPN", 1), _party("USA", 1)
    cases = [
        ("envelope-ss-1-recipient", -34, [jpn], 12 + 16, None),
        ("envelope-ss-3-recipients", -34, [jpn, usa, kor], 12 + 32 + 3 * 16, None),
        ("envelope-es-1-recipient", -31, [usa], 12, "ephemeral"),
        ("envelope-es-2-recipients", -31, [jpn, usa], 12 + 32, "ephemeral"),
    ]
    for name, alg, recipients, random_len, ephemeral in cases:
        vector: dict[str, Any] = {
            "title": name, "format": "gsomia envelope version 1", "key_agreement": alg,
            "sender": kor, "recipients": recipients, "sealed_at": "2026-11-22T09:30:00+00:00",
            "label": LABEL, "plaintext": f"test vector {name}: track 42 at 37.5N 127.0E",
            "random_hex": hashlib.shake_256(name.encode()).digest(random_len).hex(),
        }
        if ephemeral:
            vector["ephemeral_private_hex"] = hashlib.sha256(f"{name} ephemeral".encode()).hexdigest()
        vector["envelope_hex"] = _seal(vector).hex()
        (VECTORS / f"{name}.json").write_text(json.dumps(vector, indent=2) + "\n")
    record: dict[str, Any] = {
        "title": "a destruction certificate", "type": "destruction-certificate", "signer": kor,
        "signed_at": "2026-11-22T10:00:00+00:00",
        "body": {"item_id": "item-0001", "label_digest": "sha256:" + hashlib.sha256(LABEL.encode()).hexdigest(),
                 "method": "crypto-shred", "officer": "KOR/officer-7", "destroyed_at": "2026-11-22T09:59:00Z"},
    }
    record["record_hex"] = sign_record(record["type"], record["body"], signer=_node(kor),
                                       at=datetime.fromisoformat(record["signed_at"])).hex()
    (VECTORS / "record-destruction-certificate.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__" and "--regenerate" in sys.argv:
    regenerate()
