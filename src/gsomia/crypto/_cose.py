"""COSE (RFC 9052 / RFC 9053) building blocks: hazardous materials.

Nothing outside `gsomia.crypto` should import this module. It knows the CBOR structures that COSE
signs, encrypts and derives keys over, and the few algorithms gsomia supports:

    signing       EdDSA (-8, Ed25519), ES256 (-7, for PKCS#11 tokens without Ed25519)
    content       A128GCM (1), A192GCM (2), A256GCM (3)
    key wrap      A128KW (-3), A192KW (-4), A256KW (-5), direct (-6)
    agreement     ECDH-ES + HKDF-256 (-25), ECDH-SS + HKDF-256 (-27),
                  ECDH-ES + A128/192/256KW (-29/-30/-31), ECDH-SS + A128/192/256KW (-32/-33/-34)

One codec, cbor2, both ways: every structure is built as Python values and written by `dumps`
(deterministic encoding), every byte string read by `loads`. Decoding is strict: one CBOR item, no
trailing bytes, no indefinite lengths, no duplicate keys, and (unless a caller reads a third party's
examples) only the deterministic encoding, so what a peer sends has exactly one byte form.
HKDF is `cryptography`'s. Every failure here raises `CoseError`; the public layers translate it to their one error type.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from gsomia.crypto import _deterministic

# Header labels (RFC 9052 §3.1, RFC 9053 §6.4).
ALG, CRIT, CTY, KID, IV, PARTIAL_IV = 1, 2, 3, 4, 5, 6
EPHEMERAL_KEY, STATIC_KEY, STATIC_KEY_ID = -1, -2, -3
SALT, PARTY_U_IDENTITY, PARTY_U_NONCE, PARTY_U_OTHER = -20, -21, -22, -23
PARTY_V_IDENTITY, PARTY_V_NONCE, PARTY_V_OTHER = -24, -25, -26
# draft-ietf-cose-hash-envelope: the payload is a hash of content carried elsewhere.
PAYLOAD_HASH_ALG = 258
# RFC 9942 (COSE Receipts): the verifiable data structure (protected) and its proofs (unprotected).
VDS, VDP = 395, 396
RFC9162_SHA256 = 1  # VDS value: RFC 9162's Merkle tree, SHA-256
INCLUSION_PROOFS = -1  # VDP key: [+ bstr .cbor [tree-size, leaf-index, [+ sibling hash]]]

# Algorithms.
EDDSA, ES256 = -8, -7
A128GCM, A192GCM, A256GCM = 1, 2, 3
A128KW, A192KW, A256KW, DIRECT = -3, -4, -5, -6
ECDH_ES_HKDF_256, ECDH_SS_HKDF_256 = -25, -27
ECDH_ES_A128KW, ECDH_ES_A192KW, ECDH_ES_A256KW = -29, -30, -31
ECDH_SS_A128KW, ECDH_SS_A192KW, ECDH_SS_A256KW = -32, -33, -34
SHA_256 = -16

# CBOR tags (RFC 9052 §2).
TAG_SIGN1, TAG_SIGN, TAG_ENCRYPT0, TAG_ENCRYPT = 18, 98, 16, 96

# COSE_Key (RFC 9052 §7, RFC 9053 §7.2).
KTY, KTY_OKP, KTY_EC2, KTY_SYMMETRIC = 1, 1, 2, 4
CRV, X_COORD, Y_COORD, D_PARAM = -1, -2, -3, -4
CRV_P256, CRV_X25519, CRV_ED25519 = 1, 4, 6

GCM_KEY_BITS = {A128GCM: 128, A192GCM: 192, A256GCM: 256}
KW_KEY_BITS = {A128KW: 128, A192KW: 192, A256KW: 256}


class CoseError(Exception):
    pass


# --- CBOR: one codec (cbor2), deterministic both ways ----------------------------------------------

def dumps(obj: object) -> bytes:
    """Deterministic encoding (RFC 8949 §4.2, cbor2's canonical form) so that signatures and vectors
    are reproducible. Every COSE structure gsomia writes goes through here (at cbor2's plain-mode
    price where that writes the same bytes: _deterministic.py)."""
    return _deterministic.dumps(obj)


def loads(data: bytes | bytearray | memoryview, *, deterministic: bool = True) -> Any:
    """Exactly one well-formed CBOR item; anything else is a CoseError (never another exception).

    `deterministic` (the default) also refuses any encoding but the one `dumps` writes: a
    non-shortest head (an integer 1 written 0x18 0x01), unsorted map keys, a non-shortest float.
    What gsomia reads from its peers therefore has exactly one byte form, the one it would have
    written. Only third parties' examples (the COSE WG's) are read with deterministic=False.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CoseError("not bytes")
    fp = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(
            fp, allow_indefinite=False, allow_duplicate_keys=False, max_depth=16, str_errors="strict",
        ).decode()
    except Exception as exc:  # cbor2 raises many types on hostile input; all mean the same here
        raise CoseError(f"not CBOR ({type(exc).__name__})") from None
    if fp.tell() != len(data):
        raise CoseError("trailing bytes after the CBOR item")
    if deterministic:
        try:
            same = _deterministic.is_deterministic(value, data)
        except Exception as exc:  # a decoded value cbor2 cannot write back (e.g. a hostile tag)
            raise CoseError(f"not deterministic CBOR ({type(exc).__name__})") from None
        if not same:
            raise CoseError("not deterministic CBOR (RFC 8949 §4.2)")
    return value


def untag(value: Any, tag: int, *, required: bool = False) -> Any:
    if isinstance(value, cbor2.CBORTag):
        if value.tag != tag:
            raise CoseError(f"CBOR tag {value.tag}, expected {tag}")
        return value.value
    if required:
        raise CoseError(f"CBOR tag {tag} missing")
    return value


def is_array(value: Any) -> bool:
    # cbor2 decodes arrays inside a tag as tuples (immutable), elsewhere as lists.
    return isinstance(value, (list, tuple))


def array(value: Any, length: int, what: str) -> list[Any]:
    if not is_array(value) or len(value) != length:
        raise CoseError(f"{what} is not an array of {length}")
    return list(value)


def bstr(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise CoseError(f"{what} is not a byte string")
    return value


def header_map(value: Any, what: str) -> dict[Any, Any]:
    if not isinstance(value, Mapping):  # a dict, or cbor2's frozendict inside a tag
        raise CoseError(f"{what} is not a map")
    return dict(value)


def encode_protected(headers: dict[int, Any]) -> bytes:
    return dumps(headers) if headers else b""


# Protected headers already found deterministic, by their exact bytes. They repeat (a signer's header
# within one second, a label's, a recipient algorithm's), so the check is skipped for them (see the
# "512 open" line of bench_envelope); they are still decoded afresh every time. Bounded: full, it stays.
_DETERMINISTIC_HEADERS: dict[bytes, None] = {}
_DETERMINISTIC_HEADERS_MAX, _DETERMINISTIC_HEADER_BYTES = 4096, 1024


def decode_protected(raw: Any) -> dict[Any, Any]:
    raw = bstr(raw, "protected header")
    if raw == b"":
        return {}
    # An encoded empty map (h'A0') is accepted, as the COSE WG's sign-pass-01 expects, though
    # RFC 9052 §3 has senders write a zero-length string; what is signed is the bytes as sent.
    known = raw in _DETERMINISTIC_HEADERS
    value = loads(raw, deterministic=not known)
    if not known and len(raw) <= _DETERMINISTIC_HEADER_BYTES and (
            len(_DETERMINISTIC_HEADERS) < _DETERMINISTIC_HEADERS_MAX):
        _DETERMINISTIC_HEADERS[raw] = None
    return header_map(value, "protected header")


def merged(protected: dict[Any, Any], unprotected: dict[Any, Any]) -> dict[Any, Any]:
    if set(protected) & set(unprotected):
        raise CoseError("a header appears both protected and unprotected")
    if CRIT in protected:
        raise CoseError("critical headers are not supported")
    return {**unprotected, **protected}


# --- structures that are signed, authenticated or fed to the KDF ---------------------------------

def _as_signed(protected: bytes) -> bytes:
    # "No protected attributes" is signed as a zero-length string, even when the sender wrote an
    # encoded empty map (the COSE WG examples sign-pass-01, enc-pass-01 and env-pass-01 expect it).
    return b"" if protected == b"\xa0" else protected


def sig_structure1(protected: bytes, external_aad: bytes, payload: bytes) -> bytes:
    return dumps(["Signature1", _as_signed(protected), external_aad, payload])


def sig_structure(body_protected: bytes, sign_protected: bytes, external_aad: bytes, payload: bytes) -> bytes:
    return dumps(["Signature", _as_signed(body_protected), _as_signed(sign_protected), external_aad, payload])


def enc_structure(context: str, protected: bytes, external_aad: bytes = b"") -> bytes:
    if context not in ("Encrypt", "Encrypt0", "Enc_Recipient"):
        raise CoseError(f"no Enc_structure context {context!r}")
    return dumps([context, _as_signed(protected), external_aad])


def kdf_context(alg: int, key_bits: int, recipient_protected: bytes, headers: dict[Any, Any]) -> bytes:
    """COSE_KDF_Context (RFC 9053 §5.2), PartyU/V fields taken from the recipient's headers."""
    party_u = [headers.get(PARTY_U_IDENTITY), headers.get(PARTY_U_NONCE), headers.get(PARTY_U_OTHER)]
    party_v = [headers.get(PARTY_V_IDENTITY), headers.get(PARTY_V_NONCE), headers.get(PARTY_V_OTHER)]
    return dumps([alg, party_u, party_v, [key_bits, _as_signed(recipient_protected)]])


# --- primitives -----------------------------------------------------------------------------------

def hkdf_sha256(secret: bytes, salt: bytes | None, info: bytes, length: int) -> bytes:
    """HKDF-SHA-256 (RFC 5869), as COSE's HKDF-256 uses it (RFC 9053 §5.1); no salt means zeros."""
    if length > 255 * 32:
        raise CoseError("HKDF output too long")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return AESGCM(key).encrypt(iv, plaintext, aad)


def gcm_decrypt(alg: int, key: bytes, iv: Any, ciphertext: bytes | memoryview, aad: bytes) -> bytes:
    if alg not in GCM_KEY_BITS:
        raise CoseError(f"content algorithm {alg!r} not supported")
    if len(key) * 8 != GCM_KEY_BITS[alg]:
        raise CoseError("content key has the wrong length")
    if not isinstance(iv, bytes) or len(iv) != 12:
        raise CoseError("IV missing or not 12 bytes")
    try:
        return AESGCM(key).decrypt(iv, ciphertext, aad)
    except InvalidTag:
        raise CoseError("content does not authenticate") from None


def wrap(kek: bytes, cek: bytes) -> bytes:
    return aes_key_wrap(kek, cek)


def unwrap(kek: bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(kek, wrapped)
    except (InvalidUnwrap, ValueError):
        raise CoseError("content key does not unwrap") from None


def verify_signature(alg: Any, public_key: object, signature: bytes, data: bytes) -> None:
    try:
        if alg == EDDSA and isinstance(public_key, Ed25519PublicKey):
            public_key.verify(signature, data)
        elif alg == ES256 and isinstance(public_key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                raise CoseError("ES256 signature is not 64 bytes")
            der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
            public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise CoseError(f"signature algorithm {alg!r} does not match the key")
    except InvalidSignature:
        raise CoseError("signature does not verify") from None


def es256_raw(der_signature: bytes) -> bytes:
    """COSE carries ECDSA signatures as r || s, not DER (RFC 9053 §2.1)."""
    r, s = decode_dss_signature(der_signature)
    return r.to_bytes(32) + s.to_bytes(32)
