"""What the repositories take and return: frozen dataclasses, never rows or dicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gsomia.domain.officials import Official


@dataclass(frozen=True, slots=True)
class OfficialRecord:
    official: Official
    clearance_granted: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OfficialChange:
    official_id: str
    at: datetime
    actor_id: str
    action: str
    reason: str
    snapshot: str  # the official after the change, canonical JSON


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_hash: str
    official_id: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ItemRecord:
    id: str
    origin: str  # originated | received | copy
    originator: str
    classification: str
    national_marking: str | None
    releasable_to: tuple[str, ...]
    topics: tuple[str, ...]
    purpose: str
    label_bytes: bytes
    sealed_content: bytes
    state: str  # held | released | destroyed
    custodian: str
    location: str
    created_at: datetime
    updated_at: datetime
    origin_ref: str | None = None
    derived_from: str | None = None
    received_from: str | None = None


@dataclass(frozen=True, slots=True)
class ItemEvent:
    item_id: str
    at: datetime
    actor_id: str
    kind: str  # originated | received | released | receipt | copied | custody | destroyed
    counterparty: str | None
    detail: str
    receipt: bytes | None = None
    audit_seq: int | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str  # fixed-width UTC text, hashed as written
    actor: str
    via: str
    action: str
    subject: str | None
    decision: str | None  # allow | deny | None
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    count: int
    head_hash: str
    at: str
    key_id: str
    signature: bytes
