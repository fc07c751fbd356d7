"""Signed records: consents, receipts, destruction certificates, compromise reports, audit checkpoints.

A record is a COSE_Sign1 (tag 18) whose payload is a deterministic CBOR map
``{"type": ..., "signed_at": "<ISO 8601>", "body": {...}}``; protected header
``{1: alg, 3: "application/vnd.gsomia.record+cbor", 4: signer kid}``; external AAD
``"gsomia-record/1"`` so that an envelope signature can never pass for a record or the reverse.
Anyone holding the signer's published keys (or signing certificate) verifies it offline:
``gsomia verify FILE --key KOR.json``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import cbor2

from gsomia.crypto import _cose
from gsomia.crypto._cose import CoseError
from gsomia.crypto.errors import CryptoError, InvalidRecord
from gsomia.crypto.keyring import KeyRing
from gsomia.crypto.keys import NodeKeys, PublicKeys, TrustedKeys

EXTERNAL_AAD = b"gsomia-record/1"
CONTENT_TYPE = "application/vnd.gsomia.record+cbor"
RECORD_TYPES = frozenset({"consent", "receipt", "destruction-certificate", "compromise-report",
                          "compromise-result", "audit-checkpoint", "peer-message"})


@dataclass(frozen=True, slots=True)
class VerifiedRecord:
    type: str
    body: dict[str, Any]
    signed_at: datetime
    signer: PublicKeys


def sign_record(record_type: str, body: Mapping[str, Any], *, signer: KeyRing | NodeKeys,
                at: datetime | None = None) -> bytes:
    """Sign `body` (str keys; str, int, bool, None, bytes, lists and maps of those) as `record_type`."""
    if record_type not in RECORD_TYPES:
        raise CryptoError(f"unknown record type {record_type!r}; one of {sorted(RECORD_TYPES)}")
    keys = signer.current if isinstance(signer, KeyRing) else signer
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    payload = _cose.dumps({"type": record_type, "signed_at": when.isoformat().replace("+00:00", "Z"),
                           "body": dict(body)})
    protected = _cose.encode_protected({_cose.ALG: keys.signer.alg, _cose.CTY: CONTENT_TYPE, _cose.KID: keys.kid})
    signature = keys.signer.sign(_cose.sig_structure1(protected, EXTERNAL_AAD, payload))
    return _cose.dumps(cbor2.CBORTag(_cose.TAG_SIGN1, [protected, {}, payload, signature]))


def verify_record(data: bytes, *, trusted: TrustedKeys, expected_type: str | None = None) -> VerifiedRecord:
    """The record if its signature verifies under a trusted key; otherwise InvalidRecord."""
    try:
        return _verify(data, trusted, expected_type)
    except (CoseError, CryptoError) as exc:
        raise InvalidRecord(str(exc)) from None


def record_signer_kid(data: bytes) -> bytes:
    """Who claims to have signed (unverified): to pick a key to verify with."""
    try:
        protected = _cose.array(_cose.untag(_cose.loads(data), _cose.TAG_SIGN1, required=True), 4, "record")[0]
        return _cose.bstr(_cose.decode_protected(protected).get(_cose.KID), "kid")
    except CoseError as exc:
        raise InvalidRecord(str(exc)) from None


def _verify(data: bytes, trusted: TrustedKeys, expected_type: str | None) -> VerifiedRecord:
    sign1 = _cose.untag(_cose.loads(data), _cose.TAG_SIGN1, required=True)
    protected, unprotected, payload, signature = _cose.array(sign1, 4, "record")
    headers = _cose.merged(_cose.decode_protected(protected), _cose.header_map(unprotected, "unprotected"))
    if headers.get(_cose.CTY) != CONTENT_TYPE:
        raise CoseError("not a gsomia record")
    kid = _cose.bstr(headers.get(_cose.KID), "kid")
    signer = trusted.public_key(kid)
    if signer is None:
        raise CoseError(f"unknown signer {kid.hex()}")
    if headers.get(_cose.ALG) != signer.alg:
        raise CoseError("signature algorithm does not match the signer's key")
    payload = _cose.bstr(payload, "payload")
    _cose.verify_signature(signer.alg, signer.verify_key, _cose.bstr(signature, "signature"),
                           _cose.sig_structure1(protected, EXTERNAL_AAD, payload))
    content = _cose.header_map(_cose.loads(payload), "record payload")
    record_type, signed_at, body = content.get("type"), content.get("signed_at"), content.get("body")
    if not isinstance(record_type, str) or not isinstance(signed_at, str) or set(content) != {
            "type", "signed_at", "body"}:
        raise CoseError("record payload is malformed")
    if expected_type is not None and record_type != expected_type:
        raise CoseError(f"a {record_type}, not a {expected_type}")
    try:
        when = datetime.fromisoformat(signed_at.replace("Z", "+00:00"))
    except ValueError:
        raise CoseError("record time is malformed") from None
    return VerifiedRecord(type=record_type, body=_thaw(_cose.header_map(body, "record body")),
                          signed_at=when, signer=signer)


def _thaw(value: Any) -> Any:
    # cbor2 hands back immutable containers inside tags; callers get plain dicts and lists.
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def label_digest(label: bytes) -> str:
    """How a record names a label without repeating it: SHA-256 of its canonical bytes."""
    return "sha256:" + hashlib.sha256(label).hexdigest()


def destruction_certificate(*, item_id: str, label: bytes, method: str, officer: str,
                            destroyed_at: datetime) -> dict[str, Any]:
    """The body of a destruction certificate, to pass to `sign_record("destruction-certificate", ...)`."""
    return {"item_id": item_id, "label_digest": label_digest(label), "method": method, "officer": officer,
            "destroyed_at": destroyed_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")}
