"""The missile-warning feed: who started each stream (feed_streams), and the replay buffer written behind
the feed (feed_chunks, feed_labels, feed_positions; used here on a PostgreSQL node, while a SQLite node
keeps them in DATA/feed-replay.db).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gsomia.storage.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_streams",
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("official_id", sa.String(32), nullable=False),
        sa.Column("label_bytes", sa.LargeBinary(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("stream", name="pk_feed_streams"),
    )
    op.create_table(
        "feed_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("newest_at", sa.Double(), nullable=False),
        sa.Column("frames", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_chunks"),
    )
    op.create_index("ix_feed_chunks_stream_last_seq", "feed_chunks", ["stream", "last_seq"])
    op.create_index("ix_feed_chunks_newest_at", "feed_chunks", ["newest_at"])
    op.create_table(
        "feed_labels",
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("frame", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_feed_labels"),
    )
    op.create_table(
        "feed_positions",
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stream", name="pk_feed_positions"),
    )


def downgrade() -> None:
    op.drop_table("feed_positions")
    op.drop_table("feed_labels")
    op.drop_index("ix_feed_chunks_newest_at", table_name="feed_chunks")
    op.drop_index("ix_feed_chunks_stream_last_seq", table_name="feed_chunks")
    op.drop_table("feed_chunks")
    op.drop_table("feed_streams")
