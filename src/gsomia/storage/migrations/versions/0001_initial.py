"""Initial schema: officials register, tokens, item registry and history, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gsomia.storage.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64  # copied, not imported: a migration must not change when the code does


def upgrade() -> None:
    op.create_table(
        "officials",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("party", sa.String(3), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("clearance", sa.String(32), nullable=False),
        sa.Column("clearance_granted", UTCDateTime(), nullable=False),
        sa.Column("clearance_expires", UTCDateTime(), nullable=True),
        sa.Column("need_to_know", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_officials"),
    )
    op.create_table(
        "official_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("official_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["official_id"], ["officials.id"],
                                name="fk_official_changes_official_id_officials"),
        sa.PrimaryKeyConstraint("id", name="pk_official_changes"),
    )
    op.create_index("ix_official_changes_official_id", "official_changes", ["official_id"])
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("official_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["official_id"], ["officials.id"], name="fk_api_tokens_official_id_officials"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_api_tokens"),
    )
    op.create_index("ix_api_tokens_official_id", "api_tokens", ["official_id"])
    op.create_table(
        "items",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("origin_ref", sa.String(200), nullable=True),
        sa.Column("derived_from", sa.String(40), nullable=True),
        sa.Column("received_from", sa.String(3), nullable=True),
        sa.Column("originator", sa.String(3), nullable=False),
        sa.Column("classification", sa.String(32), nullable=False),
        sa.Column("national_marking", sa.String(32), nullable=True),
        sa.Column("releasable_to", sa.String(64), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("label_bytes", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_content", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("custodian", sa.String(32), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["derived_from"], ["items.id"], name="fk_items_derived_from_items"),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
    )
    op.create_index("ix_items_originator", "items", ["originator"])
    op.create_index("ix_items_classification", "items", ["classification"])
    op.create_index("ix_items_state", "items", ["state"])
    op.create_table(
        "item_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("counterparty", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.Column("audit_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_item_events_item_id_items"),
        sa.PrimaryKeyConstraint("id", name="pk_item_events"),
    )
    op.create_index("ix_item_events_item_id_at", "item_events", ["item_id", "at"])
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(27), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("subject", sa.String(64), nullable=True),
        sa.Column("decision", sa.String(8), nullable=True),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "entry_hash": GENESIS_HASH}])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("at", sa.String(27), nullable=False),
        sa.Column("key_id", sa.String(200), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_index("ix_audit_checkpoints_count", "audit_checkpoints", ["count"])


def downgrade() -> None:
    for table in ("audit_checkpoints", "audit_head", "audit_entries", "item_events", "items",
                  "api_tokens", "official_changes", "officials"):
        op.drop_table(table)
