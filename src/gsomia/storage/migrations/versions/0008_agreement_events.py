"""The life of agreements as records: events recorded here or proposed by partners (agreement_events), the
partners' signed answers (agreement_event_answers), the versions partners last said they hold
(agreement_peer_versions), and the generation of applied events a running node polls (agreement_generation).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gsomia.storage.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreement_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("agreement", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("by_party", sa.String(3), nullable=False),
        sa.Column("given", sa.Date(), nullable=False),
        sa.Column("decided", sa.Date(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("notice", sa.String(64), nullable=True),
        sa.Column("amendment", sa.Text(), nullable=True),
        sa.Column("origin", sa.String(3), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agreement_events"),
    )
    op.create_index("ix_agreement_events_agreement", "agreement_events", ["agreement"])
    op.create_table(
        "agreement_event_answers",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("party", sa.String(3), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["agreement_events.id"],
                                name="fk_agreement_event_answers_event_id_agreement_events"),
        sa.PrimaryKeyConstraint("event_id", "party", name="pk_agreement_event_answers"),
    )
    op.create_table(
        "agreement_peer_versions",
        sa.Column("peer", sa.String(3), nullable=False),
        sa.Column("agreement", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("baseline", sa.String(64), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("peer", "agreement", name="pk_agreement_peer_versions"),
    )
    generation = op.create_table(
        "agreement_generation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agreement_generation"),
    )
    op.bulk_insert(generation, [{"id": 1, "generation": 0}])


def downgrade() -> None:
    op.drop_table("agreement_generation")
    op.drop_table("agreement_peer_versions")
    op.drop_table("agreement_event_answers")
    op.drop_index("ix_agreement_events_agreement", table_name="agreement_events")
    op.drop_table("agreement_events")
