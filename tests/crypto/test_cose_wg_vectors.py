"""The COSE working group's examples, run against our COSE building blocks (`gsomia.crypto._cose`).

For every example of an algorithm we support (EdDSA and ES256 signatures, A128/192/256GCM,
direct, A128/192/256KW, X25519 ECDH-ES/SS + HKDF-256): decode, verify or decrypt, check the
intermediates (ToBeSign, AAD, KDF context, CEK), and where the example is deterministic (EdDSA,
AES-GCM with the given IV, key wrap, ECDH with the given ephemeral key) recompute the output and
compare it byte for byte. `*-fail-*` examples must be refused. MAC examples (AES-MAC, HMAC) are
outside what we support: only their A*KW key unwrap is checked.

The vectors are read from `shared/vectors/cose-wg` beside the repository, never copied into it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from gsomia.crypto import _cose
from gsomia.crypto._cose import CoseError

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "cose-wg"
ALGS = {"EdDSA": _cose.EDDSA, "ES256": _cose.ES256, "A128GCM": _cose.A128GCM, "A192GCM": _cose.A192GCM,
        "A256GCM": _cose.A256GCM, "A128KW": _cose.A128KW, "A192KW": _cose.A192KW, "A256KW": _cose.A256KW,
        "direct": _cose.DIRECT, "ECDH-ES": _cose.ECDH_ES_HKDF_256, "ECDH-SS": _cose.ECDH_SS_HKDF_256}
HEADER_NAMES = {"alg": _cose.ALG, "ctyp": _cose.CTY, "kid": _cose.KID}


def _files() -> list[Path]:
    if not VECTORS.is_dir():  # a clean clone has shared/ beside it; say so rather than skip silently
        raise FileNotFoundError(f"COSE WG vectors not found at {VECTORS}")
    return sorted(VECTORS.glob("*/*.json"))


def _b(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _field(key: dict[str, Any], name: str) -> bytes:
    return bytes.fromhex(key[name + "_hex"]) if name + "_hex" in key else _b(key[name])


def _private(key: dict[str, Any]) -> Any:
    if key["kty"] == "oct":
        return _field(key, "k")
    d = _field(key, "d")
    if key["crv"] == "Ed25519":
        return Ed25519PrivateKey.from_private_bytes(d)
    if key["crv"] == "X25519":
        return X25519PrivateKey.from_private_bytes(d)
    return ec.derive_private_key(int.from_bytes(d), ec.SECP256R1())


def _protected_input(headers: dict[str, Any]) -> dict[int, Any]:
    return {HEADER_NAMES[k]: (ALGS.get(v, v) if k == "alg" else v.encode() if k == "kid" else v)
            for k, v in headers.items()}


def _as_generated(vector: dict[str, Any]) -> bool:
    """Intermediates describe the message before any deliberate change (`failures`) was applied."""
    return not vector.get("fail") and "failures" not in vector["input"]


def _kind(vector: dict[str, Any]) -> str:
    return next(k for k in ("sign0", "sign", "encrypted", "enveloped", "mac") if k in vector["input"])


def _check(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["output"]["cbor"])
    kind = _kind(vector)
    spec = vector["input"][kind]
    plaintext = vector["input"]["plaintext"].encode()
    external = bytes.fromhex(spec.get("external", ""))
    tag = {"sign0": 18, "sign": 98, "encrypted": 16, "enveloped": 96, "mac": 97}[kind]
    # Third-party examples, not all in deterministic encoding (x25519-hkdf-256-direct: map key order).
    obj = _cose.untag(_cose.loads(data, deterministic=False), tag)  # the tag is optional (enc-pass-03)
    if kind == "sign0":
        _check_sign1(vector, data, obj, spec, external)
    elif kind == "sign":
        _check_sign(data, obj, spec, external)
    elif kind == "encrypted":
        _check_encrypt(vector, data, obj, spec, plaintext, external, recipients=False)
    elif kind == "enveloped":
        _check_encrypt(vector, data, obj, spec, plaintext, external, recipients=True)
    else:
        _check_mac_key_unwrap(vector, obj, spec)


def _check_sign1(vector: dict[str, Any], data: bytes, obj: Any, spec: dict[str, Any], external: bytes) -> None:
    protected, unprotected, payload, signature = _cose.array(obj, 4, "COSE_Sign1")
    headers = _cose.merged(_cose.decode_protected(protected), _cose.header_map(unprotected, "unprotected"))
    tbs = _cose.sig_structure1(protected, external, payload)
    if "intermediates" in vector and _as_generated(vector):
        assert tbs.hex().upper() == vector["intermediates"]["ToBeSign_hex"].upper()
    key = _private(spec["key"])
    _cose.verify_signature(headers.get(_cose.ALG), key.public_key(), signature, tbs)
    if isinstance(key, Ed25519PrivateKey):  # deterministic: recompute the whole message
        assert _cose.encode_protected(_protected_input(spec["protected"])) == protected
        rebuilt = cbor2.CBORTag(18, [protected, dict(unprotected), payload, key.sign(tbs)])
        assert cbor2.dumps(rebuilt) == data


def _check_sign(data: bytes, obj: Any, spec: dict[str, Any], external: bytes) -> None:
    protected, unprotected, payload, signers = _cose.array(obj, 4, "COSE_Sign")
    _cose.decode_protected(protected)
    rebuilt_signers = []
    for signer, layer in zip(spec["signers"], signers, strict=True):
        sp, su, signature = _cose.array(layer, 3, "COSE_Signature")
        headers = _cose.merged(_cose.decode_protected(sp), _cose.header_map(su, "unprotected"))
        tbs = _cose.sig_structure(protected, sp, external, payload)
        key = _private(signer["key"])
        _cose.verify_signature(headers.get(_cose.ALG), key.public_key(), signature, tbs)
        rebuilt_signers.append([sp, dict(su), key.sign(tbs)])
    assert cbor2.dumps(cbor2.CBORTag(98, [protected, dict(unprotected), payload, rebuilt_signers])) == data


def _content_key(vector: dict[str, Any], spec: dict[str, Any], layer: Any, content_alg: int) -> tuple[bytes, bytes]:
    """(CEK, the recipient's ciphertext recomputed): checks intermediates on the way."""
    rp, ru, wrapped = _cose.array(layer, 3, "recipient")
    headers = _cose.merged(_cose.decode_protected(rp), _cose.header_map(ru, "recipient header"))
    alg = headers.get(_cose.ALG)
    recipient = spec["recipients"][0]
    key = _private(recipient["key"])
    intermediates = vector.get("intermediates", {})
    if alg == _cose.DIRECT:
        return key, b""
    if alg in _cose.KW_KEY_BITS:
        cek = _cose.unwrap(key, wrapped)
        return cek, _cose.wrap(key, cek)
    if alg in (_cose.ECDH_ES_HKDF_256, _cose.ECDH_SS_HKDF_256):
        if alg == _cose.ECDH_ES_HKDF_256:
            peer = X25519PublicKey.from_public_bytes(headers[_cose.EPHEMERAL_KEY][_cose.X_COORD])
        else:
            peer = _private(recipient["sender_key"]).public_key()
        secret = key.exchange(peer)
        bits = _cose.GCM_KEY_BITS[content_alg]
        context = _cose.kdf_context(content_alg, bits, rp, headers)
        assert context.hex().upper() == intermediates["recipients"][0]["Context_hex"].upper()
        assert secret.hex().upper() == intermediates["recipients"][0]["Secret_hex"].upper()
        return _cose.hkdf_sha256(secret, headers.get(_cose.SALT), context, bits // 8), b""
    raise CoseError(f"recipient algorithm {alg!r} not supported")


def _check_encrypt(vector: dict[str, Any], data: bytes, obj: Any, spec: dict[str, Any], plaintext: bytes,
                   external: bytes, *, recipients: bool) -> None:
    parts = _cose.array(obj, 4 if recipients else 3, "COSE_Encrypt")
    protected, unprotected, ciphertext = parts[0], parts[1], parts[2]
    headers = _cose.merged(_cose.decode_protected(protected), _cose.header_map(unprotected, "unprotected"))
    alg = headers.get(_cose.ALG)
    if alg not in _cose.GCM_KEY_BITS:
        raise CoseError(f"content algorithm {alg!r} not supported")
    if recipients:
        if not _cose.is_array(parts[3]) or len(parts[3]) != 1:
            raise CoseError("one recipient expected")
        cek, recomputed = _content_key(vector, spec, parts[3][0], alg)
    else:
        cek, recomputed = _private(spec["recipients"][0]["key"]), b""
    # A partial IV (aes-gcm-05) is combined with a context-supplied base IV the example gives.
    iv = headers.get(_cose.IV) or bytes.fromhex(spec.get("unsent", {}).get("IV_hex", ""))
    aad = _cose.enc_structure("Encrypt" if recipients else "Encrypt0", protected, external)
    intermediates = vector.get("intermediates", {})
    if _as_generated(vector):
        assert aad.hex().upper() == intermediates["AAD_hex"].upper()
        assert cek.hex().upper() == intermediates["CEK_hex"].upper()
    assert _cose.gcm_decrypt(alg, cek, iv, ciphertext, aad) == plaintext
    assert _cose.gcm_encrypt(cek, iv, plaintext, aad) == ciphertext
    if recipients:
        rp, ru, wrapped = parts[3][0]
        assert recomputed == wrapped
        rebuilt: Any = [protected, dict(unprotected), ciphertext, [[rp, dict(ru), recomputed]]]
        if isinstance(cbor2.loads(data), cbor2.CBORTag):
            rebuilt = cbor2.CBORTag(96, rebuilt)
        assert cbor2.dumps(rebuilt) == data


def _check_mac_key_unwrap(vector: dict[str, Any], obj: Any, spec: dict[str, Any]) -> None:
    layer = _cose.array(obj, 5, "COSE_Mac")[4][0]
    rp, ru, wrapped = layer
    cek = _cose.unwrap(_private(spec["recipients"][0]["key"]), wrapped)
    assert cek.hex().upper() == vector["intermediates"]["CEK_hex"].upper()


UNSUPPORTED_CURVES = ("Ed448", "X448")


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cose_wg_example(path: Path) -> None:
    vector = json.loads(path.read_text())
    if any(f'"{curve}"' in path.read_text() for curve in UNSUPPORTED_CURVES):
        pytest.skip("Ed448 / X448 are not among gsomia's algorithms")
    if vector.get("fail"):
        with pytest.raises(CoseError):
            _check(vector)
    else:
        _check(vector)


def test_vectors_cover_every_supported_algorithm() -> None:
    text = " ".join(p.read_text() for p in _files())
    for alg in ("EdDSA", "ES256", "A128GCM", "A192GCM", "A256GCM", "A256KW", "ECDH-ES", "ECDH-SS", "direct"):
        assert f'"alg":"{alg}"' in text.replace(" ", "")


def test_ed25519_public_keys_in_vectors_match() -> None:
    vector = json.loads((VECTORS / "eddsa-examples" / "eddsa-sig-01.json").read_text())
    key = vector["input"]["sign0"]["key"]
    public = _private(key).public_key()
    assert isinstance(public, Ed25519PublicKey)
    assert public.public_bytes_raw() == bytes.fromhex(key["x_hex"])
