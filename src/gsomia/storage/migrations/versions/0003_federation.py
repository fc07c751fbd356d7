"""Federation: outbox and inbox (exactly-once delivery), consents, compromise reports, partners' checkpoints.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gsomia.storage.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(40), nullable=False),
        sa.Column("peer", sa.String(3), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("message_id", name="uq_outbox_message_id"),
    )
    op.create_index("ix_outbox_state", "outbox", ["state"])
    op.create_table(
        "inbox",
        sa.Column("message_id", sa.String(40), nullable=False),
        sa.Column("peer", sa.String(3), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_inbox"),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("by_party", sa.String(3), nullable=False),
        sa.Column("to_party", sa.String(3), nullable=False),
        sa.Column("item_ref", sa.String(200), nullable=True),
        sa.Column("topics", sa.Text(), nullable=True),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("requested_by", sa.String(3), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=True),
        sa.Column("record", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index("ix_consents_state", "consents", ["state"])
    op.create_table(
        "compromise_reports",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("originator", sa.String(3), nullable=False),
        sa.Column("item_ref", sa.String(200), nullable=False),
        sa.Column("reporter", sa.String(3), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
        sa.Column("notice_due", UTCDateTime(), nullable=False),
        sa.Column("notified_at", UTCDateTime(), nullable=True),
        sa.Column("result_due", UTCDateTime(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("result_at", UTCDateTime(), nullable=True),
        sa.Column("record", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_compromise_reports"),
    )
    op.create_table(
        "peer_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("peer", sa.String(3), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_peer_checkpoints"),
    )
    op.create_index("ix_peer_checkpoints_peer", "peer_checkpoints", ["peer"])


def downgrade() -> None:
    op.drop_index("ix_peer_checkpoints_peer", table_name="peer_checkpoints")
    op.drop_table("peer_checkpoints")
    op.drop_table("compromise_reports")
    op.drop_index("ix_consents_state", table_name="consents")
    op.drop_table("consents")
    op.drop_table("inbox")
    op.drop_index("ix_outbox_state", table_name="outbox")
    op.drop_table("outbox")
