"""The node's tables (SQLAlchemy Core). The Alembic migrations in `migrations/` must match these.

Times are stored as timezone-aware UTC (`UTCDateTime`), except in the audit log, whose `at` is the
fixed-width text `YYYY-MM-DDTHH:MM:SS.ffffffZ`: it is hashed as written, so it must round-trip
byte for byte on every backend, and it sorts as text.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

# Constraint names are explicit so that migrations and metadata agree on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out (SQLite keeps no zone; PostgreSQL keeps it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: every stored time carries its zone")
        utc = value.astimezone(timezone.utc)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - the column type guarantees it
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


officials = Table(
    "officials",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("party", String(3), nullable=False),
    Column("name", String(200), nullable=False),
    Column("clearance", String(32), nullable=False),  # written form, e.g. KOR:II
    Column("clearance_granted", UTCDateTime(), nullable=False),
    Column("clearance_expires", UTCDateTime(), nullable=True),
    Column("need_to_know", Text, nullable=False),  # canonical JSON list, sorted
    Column("roles", Text, nullable=False),  # canonical JSON list, sorted
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# R6.e: every change to the register, with who made it and why (the audit log holds it too).
official_changes = Table(
    "official_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("official_id", String(32), ForeignKey("officials.id"), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_id", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("snapshot", Text, nullable=False),  # the official after the change, canonical JSON
)

# Only SHA-256 digests of tokens are kept; the token itself is shown once and never stored.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("official_id", String(32), ForeignKey("officials.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

items = Table(
    "items",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("origin", String(16), nullable=False),  # originated | received | copy
    Column("origin_ref", String(200), nullable=True, index=True),  # the originator's own id of a received item
    Column("derived_from", String(40), ForeignKey("items.id"), nullable=True),
    Column("received_from", String(3), nullable=True),
    # Key label fields as columns for querying; `label_bytes` is the authoritative canonical label.
    Column("originator", String(3), nullable=False, index=True),
    Column("classification", String(32), nullable=False, index=True),
    Column("national_marking", String(32), nullable=True),
    Column("releasable_to", String(64), nullable=False),  # e.g. "JPN,KOR,USA"
    Column("topics", Text, nullable=False),  # canonical JSON list
    Column("purpose", Text, nullable=False),
    Column("label_bytes", LargeBinary, nullable=False),
    # Whatever the injected ContentSealer returned: protected only if that sealer protects it.
    Column("sealed_content", LargeBinary, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # held | released | destroyed
    Column("custodian", String(32), nullable=False),  # official answerable for the item (R6.f)
    Column("location", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_items_created_at", "created_at"),  # the newest items: those TAXII has not stamped yet (storage/taxii.py)
)

# Custody and distribution history (R6.f), destruction records (Art. 13), receipts.
item_events = Table(
    "item_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", String(40), ForeignKey("items.id"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_id", String(32), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("counterparty", String(64), nullable=True),  # a party, an official or a copy's id
    Column("detail", Text, nullable=False),
    Column("receipt", LargeBinary, nullable=True),
    Column("audit_seq", BigInteger, nullable=True),
    Index("ix_item_events_item_id_at", "item_id", "at"),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", String(27), nullable=False, index=True),
    Column("actor", String(32), nullable=False),
    Column("via", String(16), nullable=False),
    Column("action", String(48), nullable=False),
    Column("subject", String(64), nullable=True),
    Column("decision", String(8), nullable=True),  # allow | deny | NULL for a plain record
    Column("rules", Text, nullable=False),  # canonical JSON list of rule ids
    Column("reasons", Text, nullable=False),  # canonical JSON list
    Column("prev_hash", String(64), nullable=False),
    # No index on entry_hash: random digests scatter B-tree inserts and nothing looks entries up by
    # hash (the verifier walks by seq and catches duplicates through the chain).
    Column("entry_hash", String(64), nullable=False),
)

# One row (id = 1): the chain's head. Every append reads it FOR UPDATE (PostgreSQL) or inside
# BEGIN IMMEDIATE (SQLite) and rewrites it in the same transaction, so appends serialise.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("count", BigInteger, nullable=False, index=True),
    Column("head_hash", String(64), nullable=False),
    Column("at", String(27), nullable=False),
    Column("key_id", String(200), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

# --- federation: what crosses to partner nodes, and what came from them -------------------------------

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(40), nullable=False, unique=True),
    Column("peer", String(3), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("item_id", String(40), nullable=True),  # the local item the message is about
    Column("payload", LargeBinary, nullable=False),  # deterministic CBOR; sealed content inside, never plaintext
    Column("state", String(16), nullable=False, index=True),  # pending | delivered | refused
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("response", LargeBinary, nullable=True),  # the peer's signed answer (receipt)
    Column("flagged_at", UTCDateTime(), nullable=True),  # failing for too long: shown to the security officer
    # The sender (worker process) that has claimed the message, and until when: no other takes it before
    # then, and a worker that dies leaves it to the others once the lease runs out (0009).
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Index("ix_outbox_peer_item_state", "peer", "item_id", "state"),  # one item's notices leave in order
)

inbox = Table(
    "inbox",
    metadata,
    Column("message_id", String(40), primary_key=True),  # idempotency: each message processed once
    Column("peer", String(3), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("outcome", String(16), nullable=False),  # accepted | refused
    Column("response", LargeBinary, nullable=False),  # the signed answer, returned again to a duplicate
)

consents = Table(
    "consents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("by_party", String(3), nullable=False),  # the originator, whose consent it is (R6.a, T5)
    Column("to_party", String(3), nullable=False),
    Column("item_ref", String(200), nullable=True),  # the originator's item id ...
    Column("topics", Text, nullable=True),  # ... or a standing scope of topics (canonical JSON list)
    Column("until", UTCDateTime(), nullable=True),
    Column("requested_by", String(3), nullable=True),
    Column("purpose", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # requested | granted | refused
    Column("granted_at", UTCDateTime(), nullable=True),
    Column("record", LargeBinary, nullable=True),  # the signed consent
    Column("created_at", UTCDateTime(), nullable=False),
)

compromise_reports = Table(
    "compromise_reports",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("direction", String(8), nullable=False),  # sent (we hold the item) | received (we provided it)
    Column("originator", String(3), nullable=False),
    Column("item_ref", String(200), nullable=False),  # the originator's item id
    Column("reporter", String(3), nullable=False),
    Column("description", Text, nullable=False),
    Column("reported_at", UTCDateTime(), nullable=False),
    Column("notice_due", UTCDateTime(), nullable=False),  # R17.1 "immediately"
    Column("notified_at", UTCDateTime(), nullable=True),  # when the originator acknowledged the notice
    Column("result_due", UTCDateTime(), nullable=False),
    Column("result", Text, nullable=True),
    Column("result_at", UTCDateTime(), nullable=True),
    Column("record", LargeBinary, nullable=True),  # the signed report (and later the signed result)
)

peer_checkpoints = Table(
    "peer_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("peer", String(3), nullable=False, index=True),
    Column("count", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("record", LargeBinary, nullable=False),  # the partner's signed checkpoint, verifiable later
    Column("received_at", UTCDateTime(), nullable=False),
)

# --- the life of agreements: events recorded here or proposed by partners (storage/agreements.py) ---------

agreement_events = Table(
    "agreement_events",
    metadata,
    Column("id", String(64), primary_key=True),  # the recording node's id: the same on every node
    Column("agreement", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # termination | suspension | lifting | withdrawal | amendment
    Column("by_party", String(3), nullable=False),
    Column("given", Date, nullable=False),
    Column("decided", Date, nullable=True),
    Column("reference", Text, nullable=False),
    Column("notice", String(64), nullable=True),  # the notice a suspension, lifting or withdrawal concerns
    Column("amendment", Text, nullable=True),  # canonical JSON of what an amendment changes
    Column("origin", String(3), nullable=False),  # the party whose node recorded it
    Column("recorded_by", String(64), nullable=False),  # that node's security officer
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("digest", String(64), nullable=False),  # SHA-256 of the event's canonical form
    Column("record", LargeBinary, nullable=False),  # the origin's signed record of it
    Column("state", String(16), nullable=False),  # recorded | proposed | confirmed | rejected
    Column("decided_by", String(64), nullable=True),  # who confirmed or rejected it here (or whose rejection)
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("reason", Text, nullable=True),  # why it was rejected
)

# The other parties' answers to an event: their signed confirmation or rejection.
agreement_event_answers = Table(
    "agreement_event_answers",
    metadata,
    Column("event_id", String(64), ForeignKey("agreement_events.id"), primary_key=True),
    Column("party", String(3), primary_key=True),
    Column("confirmed", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("record", LargeBinary, nullable=False),
)

# The version of each agreement each partner last told us it holds (to list where we differ).
agreement_peer_versions = Table(
    "agreement_peer_versions",
    metadata,
    Column("peer", String(3), primary_key=True),
    Column("agreement", String(64), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("baseline", String(64), nullable=False),
    Column("events", Text, nullable=False),  # canonical JSON [[event id, event digest], ...]
    Column("received_at", UTCDateTime(), nullable=False),
)

# One row (id = 1): bumped by every transaction that changes which events are applied, so that a running
# node sees another process's change with one small read.
agreement_generation = Table(
    "agreement_generation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
)

# --- the missile-warning feed --------------------------------------------------------------------------

# Who started each stream here, and the label it keeps for its life (the record of the originate decision,
# whose audit entry is written in the same transaction): a restarted node gives each stream back to its
# official.
feed_streams = Table(
    "feed_streams",
    metadata,
    Column("stream", Text, primary_key=True),
    Column("official_id", String(32), nullable=False),
    Column("label_bytes", LargeBinary, nullable=False),  # the canonical label
    Column("started_at", UTCDateTime(), nullable=False),
)

# The feed's replay buffer, written behind it (storage/feed.py): the frames a chunk per stream per write,
# the label frames they name by digest, and each stream's next number. On a PostgreSQL node these are in
# its schema with the rest; a SQLite node keeps them in a file of their own (DATA/feed-replay.db, made
# from these definitions), so that the feed's writes never queue behind the node's writer, and its
# database's copies stay empty.
feed_chunks = Table(
    "feed_chunks",
    metadata,
    # The order of writing, which a load keeps. 64 bits on PostgreSQL (hundreds of chunks a second for
    # years); SQLite's INTEGER key is its 64-bit rowid.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("stream", Text, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("newest_at", Double, nullable=False),  # POSIX seconds: when its newest frame was buffered
    Column("frames", LargeBinary, nullable=False),  # CBOR [seqs, ats, digests, frames]
    Index("ix_feed_chunks_stream_last_seq", "stream", "last_seq"),
    Index("ix_feed_chunks_newest_at", "newest_at"),
)

feed_labels = Table(
    "feed_labels",
    metadata,
    Column("digest", LargeBinary, primary_key=True),
    Column("frame", LargeBinary, nullable=False),
)

feed_positions = Table(
    "feed_positions",
    metadata,
    Column("stream", Text, primary_key=True),
    Column("next_seq", BigInteger, nullable=False),
)

REPLAY_TABLES = (feed_chunks, feed_labels, feed_positions)

# --- the security officer's web console ----------------------------------------------------------------

# Signed-in browser sessions, kept server-side so that every worker process of a node sees the same ones
# (storage/console.py). Only the SHA-256 of the session's secret is stored; the secret lives in the
# browser's HttpOnly cookie. A session is bound to the token it was opened with and ends when that token or
# its official stops being valid, when it is idle too long, or at sign-out.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("official_id", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("flash", Text, nullable=True),  # JSON list of messages for the next page, then cleared
    Index("ix_console_sessions_last_seen", "last_seen"),
)

# TAXII 2.1 (storage/taxii.py). What each POST of objects did (a status resource, TAXII 2.1 §4.3.1), for the
# official who posted it, on every worker and after restarts; purged as new ones are written (taxii_status_days,
# taxii_status_max). `details` is canonical JSON: {"successes": [...], "failures": [...], "pendings": [...]},
# each entry {"id", "version", "message"}.
taxii_statuses = Table(
    "taxii_statuses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("official_id", String(32), nullable=False),
    Column("collection_id", String(36), nullable=False),
    Column("request_timestamp", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # complete | pending
    Column("total_count", Integer, nullable=False),
    Column("success_count", Integer, nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("pending_count", Integer, nullable=False),
    Column("details", Text, nullable=False),
    Index("ix_taxii_statuses_request_timestamp", "request_timestamp"),
)

# Each item's TAXII date_added: the instant this node's TAXII server first had it to list, a microsecond of
# its own (never shared, strictly increasing in the order the stamps are given; storage/taxii.py says how).
taxii_date_added = Table(
    "taxii_date_added",
    metadata,
    Column("item_id", String(40), ForeignKey("items.id"), primary_key=True),
    Column("date_added", UTCDateTime(), nullable=False, unique=True),
)

GENESIS_HASH = "0" * 64
