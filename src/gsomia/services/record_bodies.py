"""The bodies of the signed records partners exchange, one frozen dataclass per record type, written and
read through services/wire.py: what a node signs is what its partner reads, field by field.

    consent             the originator's written consent (R6.a, T5): to whom, for an item or topics, until
    compromise-report   loss or compromise of an item (R17.1)
    compromise-result   the investigation's result (R17.1)
    audit-checkpoint    a node's audit head, signed (partners keep it)
    destruction-certificate  (built by crypto.destruction_certificate; read here)
    receipt             a node's answer to a peer message (its outcome, and for a refusal the rules and reasons)

`read` verifies a record against the partners' keys and reads its body: InvalidRecord when it does not
verify, wire.Malformed when its body is not the one its type says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, TypeVar

from gsomia.crypto import KeyDirectory, KeyRing, VerifiedRecord, sign_record, verify_record
from gsomia.services.wire import from_map, to_map

B = TypeVar("B", "ConsentBody", "CompromiseReportBody", "CompromiseResultBody", "CheckpointBody",
            "DestructionCertificateBody", "ReceiptBody")


@dataclass(frozen=True, slots=True)
class ConsentBody:
    record_type: ClassVar[str] = "consent"
    id: str
    by: str
    to: str
    item_ref: str | None
    topics: str | None       # a JSON array of topics, for a standing consent
    until: str | None        # ISO 8601
    granted_at: str | None   # ISO 8601
    purpose: str


@dataclass(frozen=True, slots=True)
class CompromiseReportBody:
    record_type: ClassVar[str] = "compromise-report"
    id: str
    item_ref: str
    originator: str
    reporter: str
    description: str
    reported_at: str         # ISO 8601


@dataclass(frozen=True, slots=True)
class CompromiseResultBody:
    record_type: ClassVar[str] = "compromise-result"
    id: str
    result: str
    at: str                  # ISO 8601


@dataclass(frozen=True, slots=True)
class CheckpointBody:
    """A node's audit head, and (an anchor) the hashes of the entries since its previous anchor, 32 bytes
    each from `first_seq` to `count`: the partner's copy of them detects a rewritten or cut trail."""

    record_type: ClassVar[str] = "audit-checkpoint"
    count: int
    head_hash: str
    at: str
    party: str
    first_seq: int | None = None
    hashes: bytes | None = None


@dataclass(frozen=True, slots=True)
class DestructionCertificateBody:
    """crypto.destruction_certificate's fields, and what the holder adds: whose item it was, and why."""

    record_type: ClassVar[str] = "destruction-certificate"
    item_id: str             # the holder's id of its copy
    label_digest: str
    method: str
    officer: str
    destroyed_at: str
    originator: str | None = None
    origin_ref: str | None = None  # the originator's id of the item, for a partner's item
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptBody:
    """The core of a node's answer to a peer message; an accepted one carries more (what it did)."""

    record_type: ClassVar[str] = "receipt"
    message_id: str
    kind: str
    outcome: str             # accepted | refused
    sender: str = field(metadata={"wire": "from"})
    accepted: bool = False
    rules: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


def sign(body: ConsentBody | CompromiseReportBody | CompromiseResultBody | CheckpointBody
         | DestructionCertificateBody, *, signer: KeyRing, at: datetime) -> bytes:
    return sign_record(body.record_type, to_map(body), signer=signer, at=at)


def read(data: bytes, body_type: type[B], *, trusted: KeyDirectory | KeyRing) -> tuple[B, VerifiedRecord]:
    """The record's body, typed, and who signed it when (InvalidRecord, or wire.Malformed)."""
    record = verify_record(data, trusted=trusted, expected_type=body_type.record_type)
    return from_map(body_type, record.body, body_type.record_type, more=body_type is ReceiptBody), record
