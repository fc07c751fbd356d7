"""The sealed envelope: `seal` and `open`, COSE (RFC 9052) in the spirit of STANAG 4778's +cbor binding.

Layout (CBOR, deterministic encoding)::

    envelope = [
      1,                                  ; format version, checked before anything else
      bstr .cbor COSE_Encrypt,            ; the exact bytes that are hashed and signed
      COSE_Sign1                          ; by the originating node, over SHA-256 of those bytes
    ]
    COSE_Encrypt = 96([
      << {1: 3 (A256GCM), -65537: label} >>,            ; the label is AAD via Enc_structure
      {5: iv},
      ciphertext || tag,
      [ + recipient ]
    ])
    recipient = [ << {1: alg} >>, {4: recipient kid, -20: salt}, wrapped CEK ]   ; ECDH-SS
              / [ << {1: alg} >>, {4: recipient kid, -1: ephemeral COSE_Key}, wrapped CEK ]  ; ECDH-ES
      alg, several recipients: -34 ECDH-SS + A256KW | -31 ECDH-ES + A256KW (40-byte wrapped CEK)
      alg, one recipient:      -27 ECDH-SS + HKDF-256 | -25 ECDH-ES + HKDF-256 (direct: the derived
                               key is the content key, wrapped CEK is h''; saves 42 bytes)
      KDF: HKDF-SHA-256(secret, salt or none, COSE_KDF_Context(A256KW or A256GCM, 256, recipient
      protected)) per RFC 9053 §5; the sender's static key is the signer's agreement key.
    COSE_Sign1 = 18([
      << {1: -8 (EdDSA) | -7 (ES256), 4: signer kid, 258: -16 (SHA-256), 15: {6: sealed-at}} >>,
      {}, nil,                            ; detached payload: SHA-256(COSE_Encrypt bytes)
      signature                           ; external_aad = "gsomia-envelope/1" binds the version
    ])

Written by one codec (cbor2 through `_cose.dumps`, deterministic encoding) and read by one strict
decoder (`_cose.loads`): an envelope in any other byte form than the deterministic one, a version 1
written 0x18 0x01 for instance, is refused with InvalidEnvelope. Large items take the fast path of
crypto/in_place.py, pinned to that codec by property tests.

Why hash-then-sign (draft-ietf-cose-hash-envelope): Ed25519 reads its message twice when signing, so
signing a 1 MiB ciphertext costs two SHA-512 passes; one SHA-256 pass (SHA-NI) over the encrypted
structure, then a signature over 32 bytes, costs far less and still binds every byte, the
recipients included. The GCM tag alone would not do: whoever holds the content key (every
recipient) can forge another ciphertext with the same tag.

Key agreement, and why ECDH-SS is the default:

* ECDH-SS + A256KW (-34, the default; the issue's "-32" is ECDH-SS + A128KW in RFC 9053). The
  X25519 secret between the sender's and the recipient's static keys is computed once per pair and
  cached (`NodeKeys.shared_secret`); each message draws a fresh 16-byte salt, so every message
  still gets its own key-encryption key via HKDF. This saves the ~80 µs of generating an ephemeral
  key and exchanging it per message, which would otherwise dominate small items. The cost: no
  forward secrecy — whoever later steals *either* static key (the sender's as well as the
  recipient's) can unwrap every message between the pair sealed under that generation. Key
  rotation (KeyRing) bounds that window.
* ECDH-ES + A256KW (-31). A fresh ephemeral X25519 key per message (shared by its recipients): a
  stolen sender key reveals nothing; only the recipient's key opens. Use it for items whose secrecy
  must outlive the sender's key generation.

The sender's static key for ECDH-SS is the agreement key of the generation that signed (the Sign1
kid), so recipients carry no static-key-id header; the signature is checked before any key is used.
The sealed-at time is whole seconds (a CWT NumericDate).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from gsomia.crypto import _cose, in_place, verified
from gsomia.crypto._cose import CoseError
from gsomia.crypto.errors import CryptoError, InvalidEnvelope
from gsomia.crypto.keyring import KeyRing
from gsomia.crypto.keys import NodeKeys, PublicKeys, TrustedKeys, exchange

VERSION = 1
EXTERNAL_AAD = b"gsomia-envelope/1"
LABEL = -65537  # private-use header label (RFC 9052 §16.2: below -65536)
CWT_CLAIMS, IAT = 15, 6  # RFC 9597 CWT claims in COSE headers; iat is a NumericDate
ECDH_SS = _cose.ECDH_SS_A256KW
ECDH_ES = _cose.ECDH_ES_A256KW
SALT_BYTES = 16
_DIRECT = {ECDH_SS: _cose.ECDH_SS_HKDF_256, ECDH_ES: _cose.ECDH_ES_HKDF_256}
_RECIPIENT_PROTECTED = {alg: _cose.encode_protected({_cose.ALG: alg})
                        for alg in (ECDH_SS, ECDH_ES, *_DIRECT.values())}
_KDF_CONTEXTS: dict[tuple[int, bytes], bytes] = {}
IV_BYTES = 12
# What precedes the one large byte string of each structure as the reference codec writes it, for the
# in-place path of large items (crypto/in_place.py): "[1," and "96([", then {5: iv} (its iv last).
_OUTER_PREFIX = _cose.dumps([VERSION, b"", None]).removesuffix(_cose.dumps(b"") + _cose.dumps(None))
_ENCRYPT_PREFIX = _cose.dumps(cbor2.CBORTag(_cose.TAG_ENCRYPT, [b"", {}, b"", []])).removesuffix(
    _cose.dumps(b"") + _cose.dumps({}) + _cose.dumps(b"") + _cose.dumps([]))
_IV_MAP = _cose.dumps({_cose.IV: bytes(IV_BYTES)})


@dataclass(frozen=True, slots=True)
class Opened:
    """What `open` returns: the label that was bound, the content, and who sealed it when."""

    label: bytes
    plaintext: bytes
    signer_kid: bytes
    signer: PublicKeys
    sealed_at: datetime


def seal(plaintext: bytes, *, label: bytes, sender: KeyRing | NodeKeys, recipients: Sequence[PublicKeys],
         at: datetime | None = None, key_agreement: int = ECDH_SS) -> bytes:
    """Encrypt `plaintext` for `recipients`, bind `label`, sign as `sender` (its newest key)."""
    return seal_with(plaintext, label=label, sender=sender, recipients=recipients, at=at,
                     key_agreement=key_agreement, random=os.urandom, ephemeral=None)


def seal_with(plaintext: bytes, *, label: bytes, sender: KeyRing | NodeKeys,
              recipients: Sequence[PublicKeys], at: datetime | None, key_agreement: int,
              random: Callable[[int], bytes], ephemeral: X25519PrivateKey | None) -> bytes:
    """`seal` with its randomness injected: for published test vectors only."""
    keys = sender.current if isinstance(sender, KeyRing) else sender
    if not recipients:
        raise CryptoError("an envelope needs at least one recipient")
    if key_agreement not in _DIRECT:
        raise CryptoError(f"key agreement {key_agreement} not supported")
    when = at or datetime.now(timezone.utc)
    # One recipient: the agreed key *is* the content key (direct, -27/-25), 42 bytes shorter.
    direct = len(recipients) == 1
    alg = _DIRECT[key_agreement] if direct else key_agreement
    rp = _RECIPIENT_PROTECTED[alg]
    kdf_alg = _cose.A256GCM if direct else _cose.A256KW  # AlgorithmID in the KDF context (RFC 9053 §5.2)
    # One call for all of it (urandom's cost is mostly per call), consumed in a fixed order that
    # the published vectors document: IV, content key (several recipients), one salt per recipient.
    salts = SALT_BYTES * len(recipients) if key_agreement == ECDH_SS else 0
    fresh = random(IV_BYTES + (0 if direct else 32) + salts)
    iv, cek, salt_pool = fresh[:IV_BYTES], fresh[IV_BYTES:len(fresh) - salts], fresh[len(fresh) - salts:]
    if key_agreement == ECDH_ES:
        eph = ephemeral or X25519PrivateKey.generate()
        eph_key = {_cose.KTY: _cose.KTY_OKP, _cose.CRV: _cose.CRV_X25519,
                   _cose.X_COORD: eph.public_key().public_bytes_raw()}
    layers: list[list[Any]] = []
    for index, peer in enumerate(recipients):
        if key_agreement == ECDH_SS:
            salt = salt_pool[index * SALT_BYTES:(index + 1) * SALT_BYTES]
            headers: dict[int, Any] = {_cose.KID: peer.kid, _cose.SALT: salt}
            secret = keys.shared_secret(peer)
        else:
            if peer.agree_key is None:
                raise CryptoError(f"no agreement key known for {peer.kid.hex()}")
            headers, salt = {_cose.KID: peer.kid, _cose.EPHEMERAL_KEY: eph_key}, None
            secret = exchange(eph, peer.agree_key)
        kek = _cose.hkdf_sha256(secret, salt, _kdf_context(kdf_alg, rp), 32)
        cek = kek if direct else cek
        layers.append([rp, headers, b"" if direct else _cose.wrap(kek, cek)])
    body_protected, aad = _label_headers(label)
    body: tuple[bytes | memoryview, ...]
    if len(plaintext) + 16 < in_place.MIN_SIZE:
        ciphertext = _cose.gcm_encrypt(cek, iv, plaintext, aad)
        body = (_cose.dumps(cbor2.CBORTag(_cose.TAG_ENCRYPT, [body_protected, {_cose.IV: iv}, ciphertext, layers])),)
    else:
        body = _body_in_place(body_protected, {_cose.IV: iv}, in_place.gcm_encrypt(cek, iv, plaintext, aad), layers)
    digest = hashlib.sha256()
    for part in body:
        digest.update(part)
    sign_protected = _signer_header(keys.signer.alg, keys.kid, int(when.timestamp()))
    to_be_signed = _cose.sig_structure1(sign_protected, EXTERNAL_AAD, digest.digest())
    signature = keys.signer.sign(to_be_signed)
    verified.VERIFIED.add(keys.public, to_be_signed, signature)
    sign1 = cbor2.CBORTag(_cose.TAG_SIGN1, [sign_protected, {}, None, signature])
    if len(body) == 1:
        return _cose.dumps([VERSION, body[0], sign1])
    return b"".join(in_place.spliced(_cose.dumps([VERSION, b"", sign1]), len(_OUTER_PREFIX), body))


# The protected headers a node writes repeat (a label for every copy of an item, a signer's within one
# second): the reference encoder's output for them is kept (bench_envelope's "512 seal" line).
@functools.lru_cache(maxsize=256)
def _label_headers(label: bytes) -> tuple[bytes, bytes]:
    """(the COSE_Encrypt's protected header binding `label`, its Enc_structure)"""
    protected = _cose.encode_protected({_cose.ALG: _cose.A256GCM, LABEL: label})
    return protected, _cose.enc_structure("Encrypt", protected)


@functools.lru_cache(maxsize=8)
def _signer_header(alg: int, kid: bytes, sealed_at: int) -> bytes:
    return _cose.encode_protected({_cose.ALG: alg, _cose.KID: kid, CWT_CLAIMS: {IAT: sealed_at},
                                   _cose.PAYLOAD_HASH_ALG: _cose.SHA_256})


def _body_in_place(protected: bytes, unprotected: dict[int, Any], ciphertext: memoryview,
                   layers: list[list[Any]]) -> tuple[bytes | memoryview, ...]:
    """The COSE_Encrypt of a large item as the parts around its ciphertext (crypto/in_place.py): joined,
    the bytes `_cose.dumps` writes for it."""
    skeleton = _cose.dumps(cbor2.CBORTag(_cose.TAG_ENCRYPT, [protected, unprotected, b"", layers]))
    at = len(_ENCRYPT_PREFIX) + len(_cose.dumps(protected)) + len(_cose.dumps(unprotected))
    return in_place.spliced(skeleton, at, [ciphertext])


_PARTY_FIELDS = (_cose.PARTY_U_IDENTITY, _cose.PARTY_U_NONCE, _cose.PARTY_U_OTHER,
                 _cose.PARTY_V_IDENTITY, _cose.PARTY_V_NONCE, _cose.PARTY_V_OTHER)


def _kdf_context(alg: int, recipient_protected: bytes, headers: dict[Any, Any] | None = None) -> bytes:
    if headers and any(field in headers for field in _PARTY_FIELDS):
        return _cose.kdf_context(alg, 256, recipient_protected, headers)
    # Without PartyU/V fields the context is constant per algorithm pair: computed once. Only our
    # own protected headers are cached, so that what a peer sends cannot grow the cache.
    key = (alg, recipient_protected)
    context = _KDF_CONTEXTS.get(key)
    if context is None:
        context = _cose.kdf_context(alg, 256, recipient_protected, {})
        if recipient_protected in _RECIPIENT_PROTECTED.values():
            _KDF_CONTEXTS[key] = context
    return context


def open_envelope(envelope: bytes, *, recipient: KeyRing | NodeKeys, senders: TrustedKeys,
                  at: datetime | None = None, ttl: timedelta | None = None) -> Opened:
    """Verify, then decrypt. Any failure raises InvalidEnvelope; nothing is returned unverified.

    `senders` says whose signatures are trusted. With `ttl`, an envelope sealed more than `ttl`
    before `at` (default now), or more than `ttl` after it, is refused.
    """
    try:
        return _open(envelope, recipient, senders, at, ttl)
    except (CoseError, CryptoError) as exc:
        raise InvalidEnvelope(str(exc)) from None


def _open(envelope: bytes, recipient: KeyRing | NodeKeys, senders: TrustedKeys,
          at: datetime | None, ttl: timedelta | None) -> Opened:
    if not isinstance(envelope, (bytes, bytearray, memoryview)):
        raise CoseError("an envelope is bytes")
    body, sign1 = _outer(envelope)
    signer, sealed_at = _verify(_cose.untag(sign1, _cose.TAG_SIGN1, required=True), body, senders)
    if ttl is not None:
        now = at or datetime.now(timezone.utc)
        if not now - ttl <= sealed_at <= now + ttl:
            raise CoseError("envelope is older than its time to live, or from the future")
    body_protected, unprotected, ciphertext, layers = _encrypt_parts(body)
    headers = _cose.merged(_cose.decode_protected(body_protected), _cose.header_map(unprotected, "unprotected"))
    if headers.get(_cose.ALG) != _cose.A256GCM:
        raise CoseError("content algorithm is not A256GCM")
    label = _cose.bstr(headers.get(LABEL), "label")
    if not _cose.is_array(layers) or not layers:
        raise CoseError("no recipients")
    cek = _unwrap_for(layers, recipient, signer)
    plaintext = _cose.gcm_decrypt(_cose.A256GCM, cek, headers.get(_cose.IV), ciphertext,
                                  _cose.enc_structure("Encrypt", body_protected))
    return Opened(label=label, plaintext=plaintext, signer_kid=signer.kid, signer=signer, sealed_at=sealed_at)


def _outer(envelope: bytes) -> tuple[bytes | memoryview, Any]:
    """(the COSE_Encrypt bytes, the decoded COSE_Sign1), after checking the version first."""
    fast = in_place.outer(envelope, _OUTER_PREFIX) if len(envelope) >= in_place.MIN_SIZE else None
    outer = fast[1] if fast else _cose.loads(envelope)
    if not _cose.is_array(outer) or not outer or type(outer[0]) is not int or outer[0] != VERSION:
        version = outer[0] if _cose.is_array(outer) and outer else None
        raise CoseError(f"unsupported envelope version {version!r}")
    _, body, sign1 = _cose.array(outer, 3, "envelope")
    return (fast[0] if fast else _cose.bstr(body, "encrypted body")), sign1


def _encrypt_parts(body: bytes | memoryview) -> tuple[bytes, Any, bytes | memoryview, Any]:
    """(protected bytes, unprotected map, ciphertext, recipients) of the COSE_Encrypt."""
    fast = in_place.encrypt(memoryview(body), _ENCRYPT_PREFIX, _IV_MAP[:-IV_BYTES], len(_IV_MAP)) if (
        len(body) >= in_place.MIN_SIZE) else None
    enc = _cose.array(_cose.untag(fast[1] if fast else _cose.loads(body), _cose.TAG_ENCRYPT, required=True), 4,
                      "COSE_Encrypt")
    ciphertext = fast[0] if fast else _cose.bstr(enc[2], "ciphertext")
    return _cose.bstr(enc[0], "protected header"), enc[1], ciphertext, enc[3]


def _verify(sign1: Any, body: bytes | memoryview, senders: TrustedKeys) -> tuple[PublicKeys, datetime]:
    sign_protected, unprotected, payload, signature = _cose.array(sign1, 4, "COSE_Sign1")
    headers = _cose.merged(_cose.decode_protected(sign_protected), _cose.header_map(unprotected, "unprotected"))
    if unprotected or payload is not None:
        raise CoseError("signature carries unexpected fields")
    kid = _cose.bstr(headers.get(_cose.KID), "signer kid")
    signer = senders.public_key(kid)
    if signer is None:
        raise CoseError(f"unknown signer {kid.hex()}")
    if headers.get(_cose.ALG) != signer.alg or headers.get(_cose.PAYLOAD_HASH_ALG) != _cose.SHA_256:
        raise CoseError("signature algorithm does not match the signer's key")
    claims = _cose.header_map(headers.get(CWT_CLAIMS), "CWT claims")
    iat = claims.get(IAT)
    if type(iat) is not int or not 0 <= iat < 2**40:
        raise CoseError("sealed-at time missing or out of range")
    digest = hashlib.sha256(body).digest()
    signature = _cose.bstr(signature, "signature")
    to_be_signed = _cose.sig_structure1(sign_protected, EXTERNAL_AAD, digest)
    verified.VERIFIED.verify(signer, to_be_signed, signature)
    return signer, datetime.fromtimestamp(iat, timezone.utc)


def _unwrap_for(layers: Sequence[Any], recipient: KeyRing | NodeKeys, signer: PublicKeys) -> bytes:
    for layer in layers:
        rp, unprotected, wrapped = _cose.array(layer, 3, "recipient")
        headers = _cose.merged(_cose.decode_protected(rp), _cose.header_map(unprotected, "recipient header"))
        kid = _cose.bstr(headers.get(_cose.KID), "recipient kid")
        keys = recipient.find(kid) if isinstance(recipient, KeyRing) else (
            recipient if kid == recipient.kid else None)
        if keys is None:
            continue
        alg = headers.get(_cose.ALG)
        if alg in (ECDH_SS, _cose.ECDH_SS_HKDF_256):
            salt = _cose.bstr(headers.get(_cose.SALT), "salt")
            secret = keys.shared_secret(signer)
        elif alg in (ECDH_ES, _cose.ECDH_ES_HKDF_256):
            secret, salt = exchange(keys.agreement, _ephemeral(headers.get(_cose.EPHEMERAL_KEY))), None
        else:
            raise CoseError(f"key agreement {alg!r} not supported")
        direct = alg in _DIRECT.values()
        if direct and len(layers) != 1:
            raise CoseError("direct key agreement with more than one recipient")
        kdf_alg = _cose.A256GCM if direct else _cose.A256KW
        kek = _cose.hkdf_sha256(secret, salt, _kdf_context(kdf_alg, rp, headers), 32)
        wrapped = _cose.bstr(wrapped, "wrapped key")
        if direct:
            if wrapped:
                raise CoseError("direct key agreement carries a wrapped key")
            return kek
        cek = _cose.unwrap(kek, wrapped)
        if len(cek) != 32:
            raise CoseError("content key is not 256 bits")
        return cek
    raise CoseError("not addressed to any key on this ring (wrong recipient, or key retired)")


def _ephemeral(key: Any) -> X25519PublicKey:
    key = _cose.header_map(key, "ephemeral key")
    if key.get(_cose.KTY) != _cose.KTY_OKP or key.get(_cose.CRV) != _cose.CRV_X25519:
        raise CoseError("ephemeral key is not X25519")
    x = _cose.bstr(key.get(_cose.X_COORD), "ephemeral key")
    if len(x) != 32:
        raise CoseError("ephemeral key is not 32 bytes")
    return X25519PublicKey.from_public_bytes(x)
