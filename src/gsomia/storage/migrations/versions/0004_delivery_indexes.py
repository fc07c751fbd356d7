"""Indexes for delivery in order (an item's pending notices to a partner) and for finding a partner's
item by the originator's id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_peer_item_state", "outbox", ["peer", "item_id", "state"])
    op.create_index("ix_items_origin_ref", "items", ["origin_ref"])


def downgrade() -> None:
    op.drop_index("ix_items_origin_ref", table_name="items")
    op.drop_index("ix_outbox_peer_item_state", table_name="outbox")
