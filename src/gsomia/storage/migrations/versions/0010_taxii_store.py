"""TAXII 2.1 state in the store, shared by every worker process and kept across restarts: the status
resources of POSTs (taxii_statuses) and each item's date_added (taxii_date_added), and an index of the
items' creation times (the newest items are those a listing looks for without a date_added yet). Items already held are
given their date_added here, in creation order: their creation instant, or one microsecond after the
previous item's when that is later (each item has an instant of its own).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-16
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op

from gsomia.storage.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "taxii_statuses",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("official_id", sa.String(32), nullable=False),
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.Column("request_timestamp", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_taxii_statuses"),
    )
    op.create_index("ix_taxii_statuses_request_timestamp", "taxii_statuses", ["request_timestamp"])
    op.create_index("ix_items_created_at", "items", ["created_at"])
    added = op.create_table(
        "taxii_date_added",
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("date_added", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_taxii_date_added_item_id_items"),
        sa.PrimaryKeyConstraint("item_id", name="pk_taxii_date_added"),
        sa.UniqueConstraint("date_added", name="uq_taxii_date_added_date_added"),
    )
    items = sa.table("items", sa.column("id", sa.String(40)), sa.column("created_at", UTCDateTime()))
    bind = op.get_bind()
    last: datetime | None = None
    rows: list[dict[str, object]] = []
    held = bind.execute(sa.select(items.c.id, items.c.created_at).order_by(items.c.created_at, items.c.id)).all()
    for item_id, created_at in held:
        last = created_at if last is None or created_at > last else last + timedelta(microseconds=1)
        rows.append({"item_id": item_id, "date_added": last})
        if len(rows) >= _BATCH:
            op.bulk_insert(added, rows)
            rows = []
    if rows:
        op.bulk_insert(added, rows)


def downgrade() -> None:
    op.drop_table("taxii_date_added")
    op.drop_index("ix_taxii_statuses_request_timestamp", table_name="taxii_statuses")
    op.drop_table("taxii_statuses")
    op.drop_index("ix_items_created_at", table_name="items")
