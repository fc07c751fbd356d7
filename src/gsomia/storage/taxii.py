"""TAXII 2.1 state kept in the store (a unit of work's `taxii`), so that every worker process of a node and
every restart sees the same: the status resources of POSTs, and each item's date_added.

Status resources (TAXII 2.1 §4.3.1) are written once, in the transaction of the POST they describe, and
read by id; `purge_statuses` drops those older than a cut-off and those beyond the newest `keep`.

date_added. TAXII clients poll with `added_after` = the X-TAXII-Date-Added-Last they were last given, so
an object must never come into a collection with a date_added at or before one already served: it would
be missed for good. A timestamp taken when an item is written cannot promise that with several writers
(PostgreSQL, several processes): a transaction that took its time earlier may commit later. So the
date_added is given when a listing first finds the item there (`stamp_new`), by one stamper at a time
(SQLite: the database's single writer; PostgreSQL: a lock on the table that only stampers take), each item
one microsecond of its own after the newest date_added given so far, and never earlier than the node's
clock. A listing reads only what is stamped, in date_added order: whatever it has not seen yet gets a later
date_added than anything it has. The stamp is stored, so it stays what it was across restarts and workers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from gsomia.storage import tables as t
from gsomia.storage.records import ItemRecord
from gsomia.storage.repositories import _item_record

_STATUSES = t.taxii_statuses
_ADDED = t.taxii_date_added
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class StatusDetail:
    """One object of a POSTed envelope (a status-details, TAXII 2.1 §4.3.1)."""

    id: str
    version: str
    message: str


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A status resource as stored: what one POST of objects did, and who may read it."""

    id: str
    official_id: str
    collection_id: str
    request_timestamp: datetime
    status: str  # complete | pending
    successes: tuple[StatusDetail, ...]
    failures: tuple[StatusDetail, ...]
    pendings: tuple[StatusDetail, ...] = ()

    @property
    def total_count(self) -> int:
        return len(self.successes) + len(self.failures) + len(self.pendings)


class TaxiiRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # Status resources -------------------------------------------------------------------------------------

    def add_status(self, record: StatusRecord) -> None:
        details = {name: [{"id": d.id, "version": d.version, "message": d.message} for d in found]
                   for name, found in (("successes", record.successes), ("failures", record.failures),
                                       ("pendings", record.pendings))}
        self._conn.execute(insert(_STATUSES).values(
            id=record.id, official_id=record.official_id, collection_id=record.collection_id,
            request_timestamp=record.request_timestamp, status=record.status, total_count=record.total_count,
            success_count=len(record.successes), failure_count=len(record.failures),
            pending_count=len(record.pendings),
            details=json.dumps(details, separators=(",", ":"), ensure_ascii=False, sort_keys=True)))

    def status(self, status_id: str) -> StatusRecord | None:
        row = self._conn.execute(select(_STATUSES).where(_STATUSES.c.id == status_id)).first()
        if row is None:
            return None
        details = json.loads(row.details)

        def listed(name: str) -> tuple[StatusDetail, ...]:
            return tuple(StatusDetail(str(d["id"]), str(d["version"]), str(d["message"])) for d in details[name])

        return StatusRecord(row.id, row.official_id, row.collection_id, row.request_timestamp, row.status,
                            listed("successes"), listed("failures"), listed("pendings"))

    def purge_statuses(self, *, before: datetime, keep: int) -> int:
        """Drop the statuses requested before `before`, and all but the newest `keep`; how many went."""
        c = _STATUSES.c
        gone = self._conn.execute(delete(_STATUSES).where(c.request_timestamp < before)).rowcount
        edge = self._conn.execute(select(c.request_timestamp, c.id).order_by(c.request_timestamp.desc(), c.id.desc())
                                  .offset(max(keep, 0)).limit(1)).first()
        if edge is not None:
            older = or_(c.request_timestamp < edge.request_timestamp,
                        and_(c.request_timestamp == edge.request_timestamp, c.id <= edge.id))
            gone += self._conn.execute(delete(_STATUSES).where(older)).rowcount
        return int(gone)

    # date_added --------------------------------------------------------------------------------------------

    def has_unstamped(self, since: datetime | None = None) -> bool:
        """Is any item (created at `since` or later, if given) without a date_added yet? A look before
        `stamp_new` takes its lock; with `since`, on the index of creation times, cheap however many items."""
        return self._conn.execute(select(t.items.c.id).where(_waiting(since)).limit(1)).first() is not None

    def stamp_new(self, now: datetime, limit: int, since: datetime | None = None) -> int:
        """Give up to `limit` items that have none (those created at `since` or later, if given) their
        date_added, in creation order (see the module docstring); how many were given. Call it in a writing
        transaction: on PostgreSQL it takes a lock that only stampers take, so stamps are given one stamper
        at a time, each after every earlier one."""
        if self._conn.dialect.name == "postgresql":
            self._conn.exec_driver_sql("LOCK TABLE taxii_date_added IN SHARE ROW EXCLUSIVE MODE")
        c = t.items.c
        waiting: Sequence[str] = self._conn.execute(
            select(c.id).where(_waiting(since)).order_by(c.created_at, c.id).limit(limit)).scalars().all()
        if not waiting:
            return 0
        newest = self._conn.execute(select(func.max(_ADDED.c.date_added))).scalar()
        start = now if newest is None or now > newest else newest + _TICK
        self._conn.execute(insert(_ADDED), [{"item_id": item_id, "date_added": start + i * _TICK}
                                            for i, item_id in enumerate(waiting)])
        return len(waiting)

    def in_added_order(self, since: datetime, *, inclusive: bool, limit: int) -> list[tuple[datetime, ItemRecord]]:
        """Items that have a date_added from `since` on (after it unless `inclusive`), in date_added order."""
        c = _ADDED.c
        query = (select(c.date_added, t.items).join(t.items, t.items.c.id == c.item_id)
                 .where(c.date_added >= since if inclusive else c.date_added > since)
                 .order_by(c.date_added).limit(limit))
        return [(row.date_added, _item_record(row)) for row in self._conn.execute(query)]

    def date_added(self, item_id: str) -> datetime | None:
        return self._conn.execute(select(_ADDED.c.date_added).where(_ADDED.c.item_id == item_id)).scalar()


def _waiting(since: datetime | None) -> ColumnElement[bool]:
    unstamped = ~select(_ADDED.c.item_id).where(_ADDED.c.item_id == t.items.c.id).exists()
    return unstamped if since is None else (t.items.c.created_at >= since) & unstamped
