"""Repository for what crosses between nodes: outbox, inbox, consents, compromise reports, checkpoints."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, bindparam, insert, literal_column, or_, select, update
from sqlalchemy.engine import Connection

from gsomia.storage import tables as t
from gsomia.storage.engine import DEFERRED

PENDING, DELIVERED, REFUSED = "pending", "delivered", "refused"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    message_id: str
    peer: str
    kind: str
    item_id: str | None
    payload: bytes
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None
    response: bytes | None = None
    flagged_at: datetime | None = None  # failing for longer than the node's delivery_flag_after_s
    claimed_by: str | None = None  # the sender that has claimed it (`Claimant.id`), until lease_until
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboxEntry:
    message_id: str
    peer: str
    kind: str
    received_at: datetime
    outcome: str
    response: bytes


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    id: str
    by_party: str
    to_party: str
    item_ref: str | None
    topics: tuple[str, ...] | None
    until: datetime | None
    requested_by: str | None
    purpose: str
    state: str  # requested | granted | refused
    granted_at: datetime | None
    record: bytes | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CompromiseReport:
    id: str
    direction: str  # sent | received
    originator: str
    item_ref: str
    reporter: str
    description: str
    reported_at: datetime
    notice_due: datetime
    result_due: datetime
    notified_at: datetime | None = None
    result: str | None = None
    result_at: datetime | None = None
    record: bytes | None = None

    @property
    def notice_owed(self) -> bool:
        """R17.1's first notice is owed to the providing party: none when the item is the reporter's own."""
        return self.originator != self.reporter

    def overdue(self, now: datetime) -> list[str]:
        """R17.1: the first notice is due at once, the investigation's result by its deadline (our own
        investigation's, when the item is ours)."""
        late = []
        if self.notice_owed and self.notified_at is None and now > self.notice_due:
            late.append("first notice")
        if self.result is None and now > self.result_due:
            late.append("investigation result")
        return late


def _values(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _consent(row: Row[Any]) -> ConsentRecord:
    data = dict(row._mapping)
    data["topics"] = tuple(json.loads(data["topics"])) if data["topics"] is not None else None
    return ConsentRecord(**data)


# The delivery path's statements, built once (see repositories.py).
# Writes whose result nobody reads are DEFERRED: in a writer batch on PostgreSQL they leave without waiting for
# their answer (engine.py's pipeline).
_INSERT_OUTBOX = insert(t.outbox).inline().execution_options(**DEFERRED)  # `inline`: see _INSERT_EVENT
_PENDING_ABOUT_ANY = select(t.outbox.c.id).where(
    t.outbox.c.peer == bindparam("peer"), t.outbox.c.item_id.in_(bindparam("item_ids", expanding=True)),
    t.outbox.c.state == PENDING,
).limit(1)
_SETTLE = update(t.outbox).where(t.outbox.c.message_id == bindparam("message"), t.outbox.c.state == PENDING).values(
    state=bindparam("new_state"), delivered_at=bindparam("at"), response=bindparam("answer"))
# A failed attempt gives the message back (no claim) for its next try; not if another sender holds it now.
_RETRY_LATER = update(t.outbox).where(
    t.outbox.c.message_id == bindparam("message"),
    or_(t.outbox.c.claimed_by.is_(None), t.outbox.c.claimed_by == bindparam("by"))).values(
    attempts=bindparam("new_attempts"), next_attempt_at=bindparam("at"), last_error=bindparam("error"),
    claimed_by=None, lease_until=None).execution_options(**DEFERRED)
_FLAG = update(t.outbox).where(t.outbox.c.message_id == bindparam("message"), t.outbox.c.flagged_at.is_(None)).values(
    flagged_at=bindparam("at"))
_INSERT_INBOX = insert(t.inbox).execution_options(**DEFERRED)
_SEEN = select(t.inbox.c.message_id, t.inbox.c.response).where(
    t.inbox.c.message_id.in_(bindparam("ids", expanding=True)))
_EARLIER = t.outbox.alias("earlier")
# A message about an item, inserted, and whether it is first in line (no earlier message to that peer about
# that item still pending) in the same statement: one round trip instead of a SELECT and then the INSERT.
# (Written out: SQLAlchemy names the inserted row's columns in RETURNING without their table, which the
# subquery's own outbox would then capture.)
_ENQUEUE_ABOUT_ITEM: Any = insert(t.outbox).returning(literal_column(
    "NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.peer = outbox.peer"
    f" AND earlier.item_id = outbox.item_id AND earlier.state = '{PENDING}' AND earlier.id < outbox.id)"))
# Claimable by the sender `me`: not claimed, its lease run out, or claimed by `me` already.
_CLAIMABLE = or_(t.outbox.c.lease_until.is_(None), t.outbox.c.lease_until <= bindparam("now"),
                 t.outbox.c.claimed_by == bindparam("me"))
_DUE = (select(*[t.outbox.c[f.name] for f in fields(OutboxMessage)])
        .where(t.outbox.c.state == PENDING, t.outbox.c.next_attempt_at <= bindparam("now"), _CLAIMABLE,
               ~select(_EARLIER.c.id).where(_EARLIER.c.peer == t.outbox.c.peer,
                                           _EARLIER.c.item_id == t.outbox.c.item_id,
                                           _EARLIER.c.state == PENDING, _EARLIER.c.id < t.outbox.c.id).exists())
        .order_by(t.outbox.c.id).limit(bindparam("limit")))
_DUE_BESIDES = _DUE.where(t.outbox.c.message_id.not_in(bindparam("besides", expanding=True)))
# The claim: on PostgreSQL the due rows are locked as they are chosen and rows another sender is claiming at
# that moment are skipped (FOR UPDATE SKIP LOCKED), and the claim is checked again on the row it updates;
# on SQLite (one writer at a time) the conditional UPDATE alone decides.
_RETURNED = [t.outbox.c.id, *[t.outbox.c[f.name] for f in fields(OutboxMessage)]]


def _claim(besides: bool) -> Any:
    # The choice is a materialized CTE, evaluated once: as `id IN (subquery … LIMIT)` PostgreSQL may run the
    # subquery again and claim more than the limit.
    chosen = ((_DUE_BESIDES if besides else _DUE).with_only_columns(t.outbox.c.id)
              .with_for_update(skip_locked=True, of=t.outbox).cte("chosen")
              .prefix_with("MATERIALIZED", dialect="postgresql"))
    return (update(t.outbox).where(t.outbox.c.id == chosen.c.id, t.outbox.c.state == PENDING, _CLAIMABLE)
            .values(claimed_by=bindparam("me"), lease_until=bindparam("until")).returning(*_RETURNED))


_CLAIM, _CLAIM_BESIDES = _claim(False), _claim(True)
_RELEASE_CLAIMS = update(t.outbox).where(t.outbox.c.claimed_by == bindparam("me"), t.outbox.c.state == PENDING).values(
    claimed_by=None, lease_until=None)
_RELEASE_CLAIMS_BESIDES = _RELEASE_CLAIMS.where(t.outbox.c.message_id.not_in(bindparam("besides", expanding=True)))


@dataclass(frozen=True, slots=True)
class Claimant:
    """A sender sharing the outbox with others (a worker process): what it claims, no other sends before
    `lease` has run out; a sender that dies leaves its claims to the others once it has."""
    id: str
    lease: timedelta


@functools.lru_cache(maxsize=8)
def _consents_query(by_state: bool, by_party: bool) -> Select[Any]:
    query = select(t.consents).order_by(t.consents.c.created_at)
    if by_state:
        query = query.where(t.consents.c.state == bindparam("state"))
    if by_party:
        query = query.where(t.consents.c.by_party == bindparam("by_party"))
    return query


@dataclass(frozen=True, slots=True)
class Enqueued:
    """A message written to the outbox in this transaction; `first_in_line` when no older message to the
    same partner about the same item was pending then, so that it may leave as soon as it is durable."""
    message: OutboxMessage
    first_in_line: bool


class ExchangeRepository:
    def __init__(self, conn: Connection, claimant: Claimant | None = None) -> None:
        self._conn = conn
        self.enqueued: list[Enqueued] = []  # handed to the sender once the transaction is durable
        # The sender of this process, if one runs: what this process writes to the outbox is born claimed
        # by it (it is handed to it as soon as it is durable), so no other sender takes it meanwhile.
        self._claimant = claimant
        # Consents as this transaction read them, by (state, by_party): every release asks for its party's
        # granted ones, and in a writer batch (one transaction for many releases) nothing but this
        # repository changes them before the commit. Any consent write, or a rollback to a savepoint
        # (`forget_consents`), clears it.
        self._consents: dict[tuple[str | None, str | None], tuple[ConsentRecord, ...]] = {}

    # outbox -----------------------------------------------------------------------------------------
    def enqueue(self, message: OutboxMessage) -> None:
        if self._claimant is not None:
            message = replace(message, claimed_by=self._claimant.id,
                              lease_until=message.created_at + self._claimant.lease)
        if message.item_id is None:
            self._conn.execute(_INSERT_OUTBOX, _values(message))
            first_in_line = True
        else:
            first_in_line = bool(self._conn.execute(_ENQUEUE_ABOUT_ITEM, _values(message)).scalar_one())
        self.enqueued.append(Enqueued(message, first_in_line))

    def pending_about(self, peer: str, item_ids: Collection[str]) -> bool:
        """Whether a message to `peer` about one of these items is pending (sent or not yet)."""
        return bool(item_ids) and self._conn.execute(
            _PENDING_ABOUT_ANY, {"peer": peer, "item_ids": sorted(item_ids)}).first() is not None

    def due(self, now: datetime, limit: int = 50, *, besides: Collection[str] = (),
            claimant: str | None = None) -> list[OutboxMessage]:
        """Pending messages whose time has come, oldest first, but for those in `besides` (on their way
        already) and those another sender has claimed (its lease still running); of the messages about one
        item to one partner only the oldest pending one, so that the next leaves only once this one is settled."""
        query, params = _DUE, {"now": now, "limit": limit, "me": claimant}
        if besides:
            query, params["besides"] = _DUE_BESIDES, list(besides)
        return [OutboxMessage(*row) for row in self._conn.execute(query, params)]

    def claim_due(self, now: datetime, limit: int, claimant: Claimant, *,
                  besides: Collection[str] = ()) -> list[OutboxMessage]:
        """`due`, and claimed for `claimant` until now + its lease, in one statement: two senders never get
        the same message (until the lease runs out), oldest first."""
        query, params = _CLAIM, {"now": now, "limit": limit, "me": claimant.id, "until": now + claimant.lease}
        if besides:
            query, params["besides"] = _CLAIM_BESIDES, list(besides)
        rows = sorted(self._conn.execute(query, params), key=lambda row: int(row[0]))
        return [OutboxMessage(*row[1:]) for row in rows]

    def release_claims(self, claimant: str, *, besides: Collection[str] = ()) -> int:
        """Give back what `claimant` holds but for `besides` (still on their way): a sender that stops."""
        query, params = _RELEASE_CLAIMS, dict[str, Any](me=claimant)
        if besides:
            query, params["besides"] = _RELEASE_CLAIMS_BESIDES, list(besides)
        return int(self._conn.execute(query, params).rowcount)

    def outbox_message(self, message_id: str) -> OutboxMessage | None:
        query = select(*[t.outbox.c[f.name] for f in fields(OutboxMessage)]).where(
            t.outbox.c.message_id == message_id)
        row = self._conn.execute(query).first()
        return None if row is None else OutboxMessage(**dict(row._mapping))

    def outbox(self, *, state: str | None = None, limit: int = 200) -> list[OutboxMessage]:
        query = select(*[t.outbox.c[f.name] for f in fields(OutboxMessage)]).order_by(t.outbox.c.id.desc())
        if state is not None:
            query = query.where(t.outbox.c.state == state)
        return [OutboxMessage(**dict(r._mapping)) for r in self._conn.execute(query.limit(limit))]

    def peers_sent(self, item_id: str, kind: str) -> set[str]:
        """Which partners a message of this kind about this item went to (the first hops of its releases)."""
        query = select(t.outbox.c.peer).where(t.outbox.c.item_id == item_id, t.outbox.c.kind == kind)
        return {str(row[0]) for row in self._conn.execute(query)}

    def settle(self, message_id: str, *, state: str, at: datetime, response: bytes | None) -> bool:
        """Mark a pending message delivered or refused; False if it was settled already."""
        result = self._conn.execute(_SETTLE, {"message": message_id, "new_state": state, "at": at, "answer": response})
        return bool(result.rowcount)

    def retry_later(self, message_id: str, *, attempts: int, at: datetime, error: str,
                    by: str | None = None) -> None:
        """The next attempt's time, the claim given back; unless a sender other than `by` has claimed it."""
        self._conn.execute(_RETRY_LATER, {"message": message_id, "new_attempts": attempts, "at": at,
                                          "error": error[:500], "by": by})

    def flag(self, message_id: str, *, at: datetime) -> bool:
        """Mark a message whose delivery keeps failing, once; False if it was flagged already."""
        return bool(self._conn.execute(_FLAG, {"message": message_id, "at": at}).rowcount)

    # inbox --------------------------------------------------------------------------------------------
    def seen(self, message_id: str) -> InboxEntry | None:
        row = self._conn.execute(select(t.inbox).where(t.inbox.c.message_id == message_id)).first()
        return None if row is None else InboxEntry(**dict(row._mapping))

    def inbox(self, *, limit: int = 200) -> list[InboxEntry]:
        """Partners' messages handled here, newest first, each with the answer it was given."""
        query = select(t.inbox).order_by(t.inbox.c.received_at.desc(), t.inbox.c.message_id).limit(limit)
        return [InboxEntry(**dict(r._mapping)) for r in self._conn.execute(query)]

    def seen_many(self, message_ids: list[str]) -> dict[str, bytes]:
        """The stored answers of those messages already handled, by message id."""
        if not message_ids:
            return {}
        return {str(row[0]): bytes(row[1]) for row in self._conn.execute(_SEEN, {"ids": message_ids})}

    def remember(self, entries: Sequence[InboxEntry]) -> None:
        """The answers given, so that a copy of a message gets the same one again (one statement)."""
        if entries:
            self._conn.execute(_INSERT_INBOX, [_values(e) for e in entries])

    # consents ---------------------------------------------------------------------------------------
    def add_consent(self, consent: ConsentRecord) -> None:
        values = _values(consent)
        values["topics"] = json.dumps(sorted(consent.topics)) if consent.topics is not None else None
        self._consents.clear()
        self._conn.execute(insert(t.consents).values(**values))

    def consent(self, consent_id: str) -> ConsentRecord | None:
        row = self._conn.execute(select(t.consents).where(t.consents.c.id == consent_id)).first()
        return None if row is None else _consent(row)

    def consents(self, *, state: str | None = None, by_party: str | None = None) -> list[ConsentRecord]:
        """Read once per transaction (see `_consents`): the same answer until this transaction changes them."""
        known = self._consents.get((state, by_party))
        if known is None:
            query = _consents_query(state is not None, by_party is not None)
            known = tuple(_consent(r) for r in self._conn.execute(query, {"state": state, "by_party": by_party}))
            self._consents[(state, by_party)] = known
        return list(known)

    def forget_consents(self) -> None:
        """After a rollback to a savepoint: what was read since may be gone."""
        self._consents.clear()

    def decide_consent(self, consent_id: str, *, state: str, at: datetime, record: bytes | None,
                       until: datetime | None) -> None:
        self._consents.clear()
        self._conn.execute(update(t.consents).where(t.consents.c.id == consent_id)
                           .values(state=state, granted_at=at, record=record, until=until))

    # compromise reports -------------------------------------------------------------------------------
    def add_report(self, report: CompromiseReport) -> None:
        self._conn.execute(insert(t.compromise_reports).values(**_values(report)))

    def report(self, report_id: str) -> CompromiseReport | None:
        row = self._conn.execute(select(t.compromise_reports).where(t.compromise_reports.c.id == report_id)).first()
        return None if row is None else CompromiseReport(**dict(row._mapping))

    def reports(self) -> list[CompromiseReport]:
        rows = self._conn.execute(select(t.compromise_reports).order_by(t.compromise_reports.c.reported_at))
        return [CompromiseReport(**dict(r._mapping)) for r in rows]

    def update_report(self, report_id: str, **changes: Any) -> None:
        self._conn.execute(update(t.compromise_reports).where(t.compromise_reports.c.id == report_id)
                           .values(**changes))

    # partners' checkpoints ------------------------------------------------------------------------------
    def add_peer_checkpoint(self, peer: str, count: int, head_hash: str, record: bytes, at: datetime) -> None:
        self._conn.execute(insert(t.peer_checkpoints).values(peer=peer, count=count, head_hash=head_hash,
                                                             record=record, received_at=at))

    def peer_checkpoint_records(self, peer: str) -> list[bytes]:
        """The signed checkpoints `peer` sent us, oldest first: what we give back when it asks."""
        c = t.peer_checkpoints.c
        return [bytes(row[0]) for row in self._conn.execute(select(c.record).where(c.peer == peer).order_by(c.id))]

    def peer_checkpoints(self, peer: str | None = None) -> list[tuple[str, int, str, datetime]]:
        query = select(t.peer_checkpoints.c.peer, t.peer_checkpoints.c["count"], t.peer_checkpoints.c.head_hash,
                       t.peer_checkpoints.c.received_at).order_by(t.peer_checkpoints.c.id)
        if peer is not None:
            query = query.where(t.peer_checkpoints.c.peer == peer)
        return [(r[0], int(r[1]), r[2], r[3]) for r in self._conn.execute(query)]
