"""What the node's metrics read when scraped (services/metrics_scrape.py): a few grouped reads, one row per
partner, that index scans answer without touching content."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from gsomia.storage import tables as t
from gsomia.storage.exchange import DELIVERED, PENDING

_OUTBOX = (select(t.outbox.c.peer, func.count(), func.min(t.outbox.c.created_at))
           .where(t.outbox.c.state == PENDING).group_by(t.outbox.c.peer))
_PEER_CHECKPOINTS = (select(t.peer_checkpoints.c.peer, func.max(t.peer_checkpoints.c.received_at))
                     .group_by(t.peer_checkpoints.c.peer))


def outbox_pending(conn: Connection) -> list[tuple[str, int, datetime]]:
    """Per partner: messages waiting to go, and when the oldest of them was written."""
    return [(row[0], int(row[1]), _aware(row[2])) for row in conn.execute(_OUTBOX)]


def anchors_delivered(conn: Connection, kind: str) -> list[tuple[str, datetime]]:
    """Per partner: when the newest message of `kind` (our audit checkpoints) was taken by it."""
    query = (select(t.outbox.c.peer, func.max(t.outbox.c.delivered_at))
             .where(t.outbox.c.kind == kind, t.outbox.c.state == DELIVERED).group_by(t.outbox.c.peer))
    return [(row[0], _aware(row[1])) for row in conn.execute(query) if row[1] is not None]


def peer_checkpoints_received(conn: Connection) -> list[tuple[str, datetime]]:
    """Per partner: when its newest audit checkpoint reached us."""
    return [(row[0], _aware(row[1])) for row in conn.execute(_PEER_CHECKPOINTS)]


def _aware(value: datetime | str) -> datetime:
    """min/max keep the column's type (aware UTC out); a driver handing back text or a naive time is read as UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
