"""Records signed together (crypto/records.py `sign_records`): one signature over an RFC 9162 Merkle
root, as RFC 9942 (COSE Receipts) signs a tree; each record verifies alone, the batch costs one
verification, and no changed byte changes what a record proves."""

from __future__ import annotations

from datetime import datetime, timezone

import cbor2
import pytest

from gsomia.crypto import InvalidRecord, KeyDirectory, NodeKeys, _cose, sign_record, sign_records, verify_record
from gsomia.crypto import verified as verified_module

AT = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
BODIES = [{"message_id": f"m-{n}", "outcome": "accepted", "n": n} for n in range(6)]


@pytest.fixture(scope="module")
def jpn() -> NodeKeys:
    return NodeKeys.generate("JPN", "jpn-1", at=AT)


def _parts(record: bytes) -> list[object]:
    return list(cbor2.loads(record).value)


def test_each_record_of_a_batch_verifies_alone(jpn: NodeKeys) -> None:
    records = sign_records("receipt", BODIES, signer=jpn, at=AT)
    assert len(records) == len(BODIES) and len({_parts(r)[3] for r in records}) == 1  # one signature
    for record, body in zip(records, BODIES, strict=True):
        opened = verify_record(record, trusted=KeyDirectory([jpn.public]), expected_type="receipt")
        assert (opened.body, opened.signed_at, opened.signer.kid) == (body, AT, jpn.kid)
        protected = cbor2.loads(_parts(record)[0])
        assert protected[_cose.VDS] == _cose.RFC9162_SHA256


def test_one_body_is_a_plain_record_and_none_is_nothing(jpn: NodeKeys) -> None:
    [single] = sign_records("receipt", BODIES[:1], signer=jpn, at=AT)
    assert single == sign_record("receipt", BODIES[0], signer=jpn, at=AT)
    assert _parts(single)[1] == {}
    assert sign_records("receipt", [], signer=jpn, at=AT) == []


def test_a_batch_costs_one_verification(jpn: NodeKeys, verifications: list[bytes]) -> None:
    records = sign_records("peer-message", BODIES, signer=jpn, at=AT)
    verified_module.VERIFIED = verified_module.VerifiedSignatures()  # signed elsewhere: nothing remembered
    for record in records:
        verify_record(record, trusted=jpn.public)
    verify_record(records[0], trusted=jpn.public)
    assert len(verifications) == 1


def test_no_changed_byte_changes_what_a_record_proves(jpn: NodeKeys, verifications: list[bytes]) -> None:
    """Every flipped bit is refused, except in the unsigned tree size and index of the inclusion proof,
    which a path can fit more than one of (RFC 9162): then the record still proves the same body."""
    record = sign_records("receipt", BODIES, signer=jpn, at=AT)[4]
    original = verify_record(record, trusted=jpn.public)
    proof = _parts(record)[1][_cose.VDP][_cose.INCLUSION_PROOFS][0]
    unsigned = record.index(proof) + 1, record.index(proof) + 3  # the bstr's head, then [size, index, ...
    for position in range(len(record)):
        for bit in (0x01, 0x80):
            tampered = bytearray(record)
            tampered[position] ^= bit
            try:
                opened = verify_record(bytes(tampered), trusted=jpn.public)
            except InvalidRecord:
                continue
            assert unsigned[0] <= position <= unsigned[1], position
            assert opened == original


def test_a_record_with_another_records_proof_is_refused(jpn: NodeKeys) -> None:
    records = sign_records("receipt", BODIES, signer=jpn, at=AT)
    swapped = _parts(records[1])
    swapped[1] = _parts(records[2])[1]
    with pytest.raises(InvalidRecord):
        verify_record(cbor2.dumps(cbor2.CBORTag(18, swapped)), trusted=jpn.public)


@pytest.mark.parametrize("mangle", ["vds-unprotected", "proof-without-vds", "unknown-vds", "two-proofs",
                                    "proof-not-cbor", "proof-shape"])
def test_malformed_batch_headers_are_refused(jpn: NodeKeys, mangle: str) -> None:
    record = sign_records("receipt", BODIES, signer=jpn, at=AT)[0]
    protected, unprotected, payload, signature = _parts(record)
    headers = dict(cbor2.loads(protected))
    proof = unprotected[_cose.VDP][_cose.INCLUSION_PROOFS][0]
    if mangle == "vds-unprotected":
        unprotected = {**unprotected, _cose.VDS: 1}
    elif mangle == "proof-without-vds":
        del headers[_cose.VDS]
        protected = cbor2.dumps(headers)
    elif mangle == "unknown-vds":
        protected = cbor2.dumps({**headers, _cose.VDS: 2})
    elif mangle == "two-proofs":
        unprotected = {_cose.VDP: {_cose.INCLUSION_PROOFS: [proof, proof]}}
    elif mangle == "proof-not-cbor":
        unprotected = {_cose.VDP: {_cose.INCLUSION_PROOFS: [b"\xff"]}}
    else:
        unprotected = {_cose.VDP: {_cose.INCLUSION_PROOFS: [cbor2.dumps(["6", 0, []])]}}
    with pytest.raises(InvalidRecord):
        verify_record(cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, signature])),
                      trusted=jpn.public)


def test_a_record_verified_once_is_not_verified_again(jpn: NodeKeys, verifications: list[bytes]) -> None:
    record = sign_record("consent", {"item": "KOR-1"}, signer=jpn, at=AT)
    verified_module.VERIFIED = verified_module.VerifiedSignatures()
    for _ in range(3):
        verify_record(record, trusted=jpn.public)
    assert len(verifications) == 1
    other = NodeKeys.generate("JPN", "jpn-1", at=AT)  # same kid, another key: never taken from the memo
    with pytest.raises(InvalidRecord):
        verify_record(record, trusted=other.public)
