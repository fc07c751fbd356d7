"""Signed records: consents, receipts, destruction certificates, compromise reports, audit checkpoints.

A record is a COSE_Sign1 (tag 18) whose payload is a deterministic CBOR map
``{"type": ..., "signed_at": "<ISO 8601>", "body": {...}}``; protected header
``{1: alg, 3: "application/vnd.gsomia.record+cbor", 4: signer kid}``; external AAD
``"gsomia-record/1"`` so that an envelope signature can never pass for a record or the reverse.
Anyone holding the signer's published keys (or signing certificate) verifies it offline:
``gsomia verify FILE --key KOR.json``.

Records signed together (`sign_records`: the receipts a node gives for a batch of messages, the
messages a node sends in one batch) share one signature over the root of an RFC 9162 Merkle tree
whose entries are their payloads, as RFC 9942 (COSE Receipts) signs a tree: protected header
``395 (vds): 1 (RFC9162_SHA256)``; unprotected ``396 (vdp): {-1: [<<[tree size, index, path]>>]}``.
The record's payload stays attached (so each record is still whole and verifiable alone); the signature
covers the Sig_structure of the tree root that the payload's inclusion path leads to. A verifier
recomputes that root, so one changed byte of any part changes what is verified. Each such record costs
one signature per batch instead of one each, and its verification is remembered (crypto/verified.py),
so the other records of the same batch verify with a few hashes. The tree and its one signature are
crypto/batches.py's, the batch signing that the feed's batches of frames use too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import cbor2

from gsomia.crypto import _cose, batches, merkle, verified
from gsomia.crypto._cose import CoseError
from gsomia.crypto.errors import CryptoError, InvalidRecord
from gsomia.crypto.keyring import KeyRing
from gsomia.crypto.keys import NodeKeys, PublicKeys, TrustedKeys

EXTERNAL_AAD = b"gsomia-record/1"
CONTENT_TYPE = "application/vnd.gsomia.record+cbor"
RECORD_TYPES = frozenset({"consent", "receipt", "destruction-certificate", "compromise-report",
                          "compromise-result", "audit-checkpoint", "peer-message",
                          "agreement-event", "agreement-answer"})


@dataclass(frozen=True, slots=True)
class VerifiedRecord:
    type: str
    body: dict[str, Any]
    signed_at: datetime
    signer: PublicKeys


def sign_record(record_type: str, body: Mapping[str, Any], *, signer: KeyRing | NodeKeys,
                at: datetime | None = None) -> bytes:
    """Sign `body` (str keys; str, int, bool, None, bytes, lists and maps of those) as `record_type`."""
    keys, payload = _signing_key(signer), _payload(record_type, body, at)
    protected = _cose.encode_protected({_cose.ALG: keys.signer.alg, _cose.CTY: CONTENT_TYPE, _cose.KID: keys.kid})
    signature = _signed(keys, protected, payload)
    return _cose.dumps(cbor2.CBORTag(_cose.TAG_SIGN1, [protected, {}, payload, signature]))


def sign_records(record_type: str, bodies: Sequence[Mapping[str, Any]], *, signer: KeyRing | NodeKeys,
                 at: datetime | None = None) -> list[bytes]:
    """Several records of one type with one signature over their Merkle root (see the module's
    docstring); each record verifies alone with `verify_record`. One body: a plain record."""
    if len(bodies) <= 1:
        return [sign_record(record_type, body, signer=signer, at=at) for body in bodies]
    keys = _signing_key(signer)
    payloads = [_payload(record_type, body, at) for body in bodies]
    protected = _cose.encode_protected({_cose.ALG: keys.signer.alg, _cose.CTY: CONTENT_TYPE, _cose.KID: keys.kid,
                                        _cose.VDS: _cose.RFC9162_SHA256})
    signed = batches.sign_batch(payloads, keys.signer, _framing(protected))
    verified.VERIFIED.add(keys.public, signed.to_be_signed, signed.signature)
    _, paths = merkle.inclusion_paths(payloads)
    return [_cose.dumps(cbor2.CBORTag(_cose.TAG_SIGN1, [
        protected, {_cose.VDP: {_cose.INCLUSION_PROOFS: [_cose.dumps([len(payloads), index, path])]}}, payload,
        signed.signature])) for index, (payload, path) in enumerate(zip(payloads, paths, strict=True))]


def _framing(protected: bytes) -> batches.Framing:
    """A batch's root is signed as a COSE_Sign1 payload would be (RFC 9942)."""
    return lambda root: _cose.sig_structure1(protected, EXTERNAL_AAD, root)


def _signing_key(signer: KeyRing | NodeKeys) -> NodeKeys:
    return signer.current if isinstance(signer, KeyRing) else signer


def _payload(record_type: str, body: Mapping[str, Any], at: datetime | None) -> bytes:
    if record_type not in RECORD_TYPES:
        raise CryptoError(f"unknown record type {record_type!r}; one of {sorted(RECORD_TYPES)}")
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return _cose.dumps({"type": record_type, "signed_at": when.isoformat().replace("+00:00", "Z"),
                        "body": dict(body)})


def _signed(keys: NodeKeys, protected: bytes, payload: bytes) -> bytes:
    to_be_signed = _cose.sig_structure1(protected, EXTERNAL_AAD, payload)
    signature = keys.signer.sign(to_be_signed)
    verified.VERIFIED.add(keys.public, to_be_signed, signature)
    return signature


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
    protected_headers, unprotected_headers = _cose.decode_protected(protected), _cose.header_map(unprotected,
                                                                                                   "unprotected")
    headers = _cose.merged(protected_headers, unprotected_headers)
    if headers.get(_cose.CTY) != CONTENT_TYPE:
        raise CoseError("not a gsomia record")
    kid = _cose.bstr(headers.get(_cose.KID), "kid")
    signer = trusted.public_key(kid)
    if signer is None:
        raise CoseError(f"unknown signer {kid.hex()}")
    if headers.get(_cose.ALG) != signer.alg:
        raise CoseError("signature algorithm does not match the signer's key")
    payload = _cose.bstr(payload, "payload")
    signature = _cose.bstr(signature, "signature")
    inclusion = _inclusion(payload, protected_headers, unprotected_headers)
    if inclusion is None:
        verified.VERIFIED.verify(signer, _cose.sig_structure1(protected, EXTERNAL_AAD, payload), signature)
    else:
        batches.verify_batch(inclusion, signature, signer, _framing(protected))
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


def _inclusion(payload: bytes, protected: dict[Any, Any], unprotected: dict[Any, Any]) -> batches.Inclusion | None:
    """For a record signed in a batch, its payload with the inclusion path that leads to the signed
    root; None for a record signed alone (the signature covers the payload)."""
    if _cose.VDS in unprotected:
        raise CoseError("the verifiable data structure must be a protected header")
    if _cose.VDS not in protected:
        if _cose.VDP in unprotected:
            raise CoseError("an inclusion proof without a verifiable data structure")
        return None
    if protected[_cose.VDS] != _cose.RFC9162_SHA256:
        raise CoseError("unknown verifiable data structure")
    proofs = _cose.header_map(unprotected.get(_cose.VDP), "verifiable data proofs")
    inclusion = proofs.get(_cose.INCLUSION_PROOFS)
    if set(proofs) != {_cose.INCLUSION_PROOFS} or not isinstance(inclusion, (list, tuple)) or len(inclusion) != 1:
        raise CoseError("a record signed in a batch carries exactly one inclusion proof")
    proof = _cose.loads(_cose.bstr(inclusion[0], "inclusion proof"))
    if not (isinstance(proof, list) and len(proof) == 3 and type(proof[0]) is int and type(proof[1]) is int
            and isinstance(proof[2], list) and all(isinstance(h, bytes) for h in proof[2])):
        raise CoseError("inclusion proof is not [tree size, index, path]")
    return batches.Inclusion(payload, proof[1], proof[0], proof[2])


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
