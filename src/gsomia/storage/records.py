"""What the repositories take and return: frozen dataclasses, never rows or dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

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


@dataclass(frozen=True, slots=True)
class StreamOrigin:
    """Who started a feed stream here, and the label (canonical bytes) it keeps for its life."""

    stream: str
    official_id: str
    label_bytes: bytes
    started_at: datetime


class Stored(NamedTuple):
    """One frame of the feed's replay buffer. A NamedTuple, not a dataclass, on purpose: a tuple holding
    only numbers and bytes is untracked by the cyclic GC, so a buffer of 100,000 frames adds nothing to
    the full collections that otherwise stall the loop for tens of milliseconds (the feed's p99)."""

    seq: int
    at: float        # when it was buffered (POSIX seconds; for the age bound)
    digest: bytes    # the label it is under
    frame: bytes


@dataclass
class Unsaved:
    """What the replay buffer took in since it was last saved, and the bounds the store is pruned to."""

    frames: dict[str, list[Stored]] = field(default_factory=dict)  # per stream, in the order buffered
    labels: dict[bytes, bytes] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)  # stream → next seq (what a restart resumes from)
    older_than: float = 0.0                                    # frames buffered before this are gone
    floors: dict[str, int] = field(default_factory=dict)      # stream → oldest seq still held

    def __bool__(self) -> bool:
        return bool(self.frames or self.labels or self.positions)


@dataclass(frozen=True, slots=True)
class ConsoleSessionRecord:
    """A console session as stored: the SHA-256 of its secret, never the secret."""

    id_hash: str
    official_id: str
    token_hash: str
    created_at: datetime
    last_seen: datetime
    flash: tuple[str, ...] = ()
