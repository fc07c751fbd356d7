"""SQL repositories over one Connection (one unit of work); each is the small interface services use."""

from __future__ import annotations

import functools
import json
from collections.abc import Generator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Insert, Row, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from gsomia.domain.officials import Official, OfficialStatus, Role
from gsomia.domain.schemes import Classification
from gsomia.storage import tables as t
from gsomia.storage.engine import DEFERRED
from gsomia.storage.records import (
    AuditEntry,
    Checkpoint,
    ItemEvent,
    ItemRecord,
    OfficialChange,
    OfficialRecord,
    TokenRecord,
)

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dump_list(values: Sequence[str] | frozenset[str]) -> str:
    """Canonical JSON of a list of strings: the one encoding stored and hashed."""
    return dump_tuple(tuple(values))


@functools.lru_cache(maxsize=4096)
def dump_tuple(values: tuple[str, ...]) -> str:
    # Cached because rule ids and reason texts repeat from entry to entry; a reused encoder
    # avoids json.dumps building a new one on every call with non-default options.
    return _ENCODER.encode(values)


# Statements of the hot paths (every request, release and message), built once: building a Core
# statement per call cost several times what executing it does.
_OFFICIAL = select(t.officials).where(t.officials.c.id == bindparam("official_id"))
_OFFICIAL_FOR_UPDATE = _OFFICIAL.with_for_update()
_TOKEN = select(t.api_tokens.c.token_hash, t.api_tokens.c.official_id, t.api_tokens.c.created_at,
                t.api_tokens.c.revoked_at).where(t.api_tokens.c.token_hash == bindparam("token_hash"))
# Writes whose result nobody reads are DEFERRED: in a writer batch on PostgreSQL they leave without waiting for
# their answer (engine.py's pipeline).
_INSERT_ITEM = insert(t.items).execution_options(**DEFERRED)
_ITEM = select(t.items).where(t.items.c.id == bindparam("item_id"))
_ITEM_FOR_UPDATE = _ITEM.with_for_update()
_SET_ITEM_STATE = update(t.items).where(t.items.c.id == bindparam("item_id")).values(
    state=bindparam("new_state"), custodian=bindparam("new_custodian"), location=bindparam("new_location"),
    updated_at=bindparam("new_updated_at")).execution_options(**DEFERRED)
_ITEMS_BY_ORIGIN = select(t.items).where(t.items.c.originator == bindparam("originator"),
                                         t.items.c.origin_ref == bindparam("origin_ref")).order_by(t.items.c.id)
# (`inline`: nothing reads an inserted row's serial id back; without it PostgreSQL's single-row INSERT would
# carry a RETURNING id, a result to wait for.)
_INSERT_EVENT = insert(t.item_events).inline().execution_options(**DEFERRED)


class OfficialsRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: OfficialRecord) -> None:
        self._conn.execute(insert(t.officials).values(**_official_values(record)))

    def replace(self, record: OfficialRecord) -> None:
        values = _official_values(record)
        del values["id"]
        self._conn.execute(update(t.officials).where(t.officials.c.id == record.official.id).values(**values))

    def get(self, official_id: str, *, for_update: bool = False) -> OfficialRecord | None:
        """`for_update` locks the row until commit (PostgreSQL), so read-modify-write loses nothing."""
        query = _OFFICIAL_FOR_UPDATE if for_update else _OFFICIAL
        row = self._conn.execute(query, {"official_id": official_id}).first()
        return None if row is None else _official_record(row)

    def find(self, status: OfficialStatus | None = None) -> list[OfficialRecord]:
        query = select(t.officials).order_by(t.officials.c.name, t.officials.c.id)
        if status is not None:
            query = query.where(t.officials.c.status == status.value)
        return [_official_record(row) for row in self._conn.execute(query)]

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.officials)).scalar_one())

    def add_change(self, change: OfficialChange) -> None:
        self._conn.execute(insert(t.official_changes).values(
            official_id=change.official_id, at=change.at, actor_id=change.actor_id,
            action=change.action, reason=change.reason, snapshot=change.snapshot))

    def changes(self, official_id: str) -> list[OfficialChange]:
        c = t.official_changes.c
        query = select(c.official_id, c.at, c.actor_id, c.action, c.reason, c.snapshot).where(
            c.official_id == official_id).order_by(c.id)
        return [OfficialChange(*row) for row in self._conn.execute(query)]

    def add_token(self, token: TokenRecord) -> None:
        self._conn.execute(insert(t.api_tokens).values(
            token_hash=token.token_hash, official_id=token.official_id,
            created_at=token.created_at, revoked_at=token.revoked_at))

    def find_token(self, token_hash: str) -> TokenRecord | None:
        row = self._conn.execute(_TOKEN, {"token_hash": token_hash}).first()
        return None if row is None else TokenRecord(*row)

    def revoke_tokens(self, official_id: str, at: datetime) -> int:
        c = t.api_tokens.c
        result = self._conn.execute(update(t.api_tokens).where(
            c.official_id == official_id, c.revoked_at.is_(None)).values(revoked_at=at))
        return int(result.rowcount)


def _official_values(record: OfficialRecord) -> dict[str, Any]:
    o = record.official
    return {
        "id": o.id, "party": o.party, "name": o.name, "clearance": str(o.clearance),
        "clearance_granted": record.clearance_granted, "clearance_expires": o.clearance_expires,
        "need_to_know": dump_list(sorted(o.need_to_know)),
        "roles": dump_list(sorted(r.value for r in o.roles)), "status": o.status.value,
        "created_at": record.created_at, "updated_at": record.updated_at,
    }


def _official_record(row: Row[Any]) -> OfficialRecord:
    party, _, code = row.clearance.partition(":")
    official = Official(
        party=row.party, clearance=Classification(party, code), clearance_expires=row.clearance_expires,
        need_to_know=frozenset(json.loads(row.need_to_know)),
        roles=frozenset(Role(r) for r in json.loads(row.roles)),
        id=row.id, name=row.name, status=OfficialStatus(row.status))
    return OfficialRecord(official, row.clearance_granted, row.created_at, row.updated_at)


class ItemsRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, item: ItemRecord, events: Sequence[ItemEvent] = ()) -> None:
        """With `events` (about the new item): on PostgreSQL in the same statement, one round trip."""
        values = {name: getattr(item, name) for name in ItemRecord.__slots__}
        values["releasable_to"] = ",".join(item.releasable_to)
        values["topics"] = dump_list(item.topics)
        if events and self._conn.dialect.name == "postgresql":
            params = {f"item_{name}": value for name, value in values.items()}
            for n, e in enumerate(events):
                params.update({f"event{n}_{name}": value for name, value in _event_values(e).items()})
            self._conn.execute(_add_item_noted(len(events)), params)
            return
        self._conn.execute(_INSERT_ITEM, values)
        self.add_events(events)

    def get(self, item_id: str, *, for_update: bool = False) -> ItemRecord | None:
        row = self._conn.execute(_ITEM_FOR_UPDATE if for_update else _ITEM, {"item_id": item_id}).first()
        return None if row is None else _item_record(row)

    def page(self, after: tuple[datetime, str] | None, limit: int, *, state: str | None = None,
             originator: str | None = None) -> list[ItemRecord]:
        """Up to `limit` items in creation order after `after` (an item's (created_at, id)), of this state and
        originator if given: a listing reads the registry a page at a time, never all of it at once."""
        c = t.items.c
        query = select(t.items).order_by(c.created_at, c.id).limit(limit)
        if after is not None:
            query = query.where((c.created_at > after[0]) | ((c.created_at == after[0]) & (c.id > after[1])))
        if state is not None:
            query = query.where(c.state == state)
        if originator is not None:
            query = query.where(c.originator == originator)
        return [_item_record(row) for row in self._conn.execute(query)]

    def find(self, state: str | None = None, limit: int = 1000) -> list[ItemRecord]:
        """The oldest `limit` items (of this state): the registry's first page."""
        return self.page(None, limit, state=state)

    def set_state(self, item_id: str, *, state: str, custodian: str, location: str, at: datetime,
                  erase_content: bool = False) -> None:
        if erase_content:
            self.erase_content(item_id)
        self._conn.execute(_SET_ITEM_STATE, {"item_id": item_id, "new_state": state, "new_custodian": custodian,
                                             "new_location": location, "new_updated_at": at})

    def erase_content(self, item_id: str) -> None:
        """Overwrite the stored content with zeros of its own length, then empty it (same transaction).

        On SQLite (secure_delete=ON) the old cell and any freed overflow page are zeroed in place;
        `engine.reclaim_erased` then clears the WAL. On PostgreSQL each UPDATE is a new row version
        and the old ones are dead tuples until `reclaim_erased` vacuums them (see its docstring).
        """
        c = t.items.c
        length = self._conn.execute(select(func.length(c.sealed_content)).where(c.id == item_id)).scalar()
        where = update(t.items).where(c.id == item_id)
        self._conn.execute(where.values(sealed_content=bytes(int(length or 0))))
        self._conn.execute(where.values(sealed_content=b""))

    def relabel(self, item_id: str, *, classification: str, label_bytes: bytes, sealed_content: bytes,
                at: datetime, national_marking: str | None = None) -> None:
        """A new classification (R6.g): the label and the content sealed under it replace the old ones
        (and, for a partner's item, our equivalent marking)."""
        values = {"classification": classification, "label_bytes": label_bytes, "sealed_content": sealed_content,
                  "updated_at": at}
        if national_marking is not None:
            values["national_marking"] = national_marking
        self._conn.execute(update(t.items).where(t.items.c.id == item_id).values(**values))

    def by_origin(self, originator: str, origin_ref: str) -> list[ItemRecord]:
        """A partner's item as held here, named by its originator's own id (how nodes name items to each other)."""
        rows = self._conn.execute(_ITEMS_BY_ORIGIN, {"originator": originator, "origin_ref": origin_ref})
        return [_item_record(row) for row in rows]

    def derived_from(self, item_id: str) -> list[ItemRecord]:
        """Copies and translations made here from `item_id` (R4.5: they carry its markings)."""
        query = select(t.items).where(t.items.c.derived_from == item_id).order_by(t.items.c.id)
        return [_item_record(row) for row in self._conn.execute(query)]

    def add_event(self, event: ItemEvent) -> None:
        self.add_events([event])

    def add_events(self, events: Sequence[ItemEvent]) -> None:
        """In one statement (executemany)."""
        if events:
            self._conn.execute(_INSERT_EVENT, [_event_values(e) for e in events])

    def events(self, item_id: str) -> list[ItemEvent]:
        return self._events(t.item_events.c.item_id == item_id)

    def events_of_kind(self, *kinds: str, limit: int = 10_000) -> list[ItemEvent]:
        """Every item's events of these kinds, oldest first (e.g. the recalls and the certificates answering them)."""
        return self._events(t.item_events.c.kind.in_(kinds), limit)

    def _events(self, where: ColumnElement[bool], limit: int | None = None) -> list[ItemEvent]:
        c = t.item_events.c
        query = select(c.item_id, c.at, c.actor_id, c.kind, c.counterparty, c.detail, c.receipt,
                       c.audit_seq).where(where).order_by(c.id).limit(limit)
        return [ItemEvent(*row) for row in self._conn.execute(query)]


def _add_item_noted(events: int) -> Insert:
    """PostgreSQL: an item and its events, one statement (the item's INSERT as a CTE). With one event (an item
    received) built once: built per call with its values inline it cost more than the round trip it saves, as
    SQLAlchemy compiled it anew each time. Several rows of VALUES (a hub's received and relayed) have no cache
    key in SQLAlchemy: that rarer statement is compiled per call."""
    return _ADD_ITEM_NOTED if events == 1 else _item_noted(events)


def _item_noted(events: int) -> Insert:
    new_item = insert(t.items).values({c.name: bindparam(f"item_{c.name}", type_=c.type) for c in t.items.c})
    rows = [{c.name: bindparam(f"event{n}_{c.name}", type_=c.type) for c in t.item_events.c if c.name != "id"}
            for n in range(events)]
    return (insert(t.item_events).inline().values(rows[0] if events == 1 else rows).add_cte(new_item.cte("new_item"))
            .execution_options(**DEFERRED))


_ADD_ITEM_NOTED = _item_noted(1)


def _event_values(e: ItemEvent) -> dict[str, Any]:
    return {"item_id": e.item_id, "at": e.at, "actor_id": e.actor_id, "kind": e.kind, "counterparty": e.counterparty,
            "detail": e.detail, "receipt": e.receipt, "audit_seq": e.audit_seq}


def _item_record(row: Row[Any]) -> ItemRecord:
    m = row._mapping
    values = {name: m[name] for name in ItemRecord.__slots__}
    values["releasable_to"] = tuple(p for p in m["releasable_to"].split(",") if p)
    values["topics"] = tuple(json.loads(m["topics"]))
    return ItemRecord(**values)


# Column order of a raw audit row, as streamed to the verifier.
ENTRY_COLUMNS = ("seq", "at", "actor", "via", "action", "subject", "decision", "rules", "reasons",
                 "prev_hash", "entry_hash")
RawEntry = tuple[int, str, str, str, str, "str | None", "str | None", str, str, str, str]


# The append path's statements, built once: constructing Core statements per call cost more than
# the hashing (about 0.3 ms per transaction), and appends are the node's hottest write.
_LOCK_HEAD = select(t.audit_head.c.seq, t.audit_head.c.entry_hash).where(t.audit_head.c.id == 1).with_for_update()
_READ_HEAD = select(t.audit_head.c.seq, t.audit_head.c.entry_hash).where(t.audit_head.c.id == 1)
# Rows go to the driver as the tuples the chain was computed over: no per-row dicts or parameter
# processing (that cost as much as the hashing). Placeholders differ: sqlite3 "?", psycopg "%s".
INSERT_ENTRIES_SQL = {
    style: f"INSERT INTO audit_entries ({', '.join(ENTRY_COLUMNS)}) VALUES ({', '.join([mark] * len(ENTRY_COLUMNS))})"
    for style, mark in (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"))
}
_EVENT_COLUMNS = ("item_id", "at", "actor_id", "kind", "counterparty", "detail", "receipt", "audit_seq")
# PostgreSQL: at most this many entries (and as many events) go in one statement; more take the executemany path.
_APPEND_IN_ONE_PG = 64


@functools.lru_cache(maxsize=2 * _APPEND_IN_ONE_PG)
def _append_pg(entries: int, events: int) -> str:
    """PostgreSQL: `entries` audit entries, `events` item events citing them, and the head moved, in one
    statement: one round trip (appends are round-trip bound there), and one send in a pipeline where an
    executemany sends (and polls the socket) once per row."""
    def values(columns: tuple[str, ...], rows: int) -> str:
        return ", ".join([f"({', '.join(['%s'] * len(columns))})"] * rows)

    sql = (f"WITH new_entries AS (INSERT INTO audit_entries ({', '.join(ENTRY_COLUMNS)}) "
           f"VALUES {values(ENTRY_COLUMNS, entries)})")
    if events:
        sql += (f", new_events AS (INSERT INTO item_events ({', '.join(_EVENT_COLUMNS)}) "
                f"VALUES {values(_EVENT_COLUMNS, events)})")
    return f"{sql} UPDATE audit_head SET seq = %s, entry_hash = %s WHERE id = 1"


_AT = t.UTCDateTime()
_MOVE_HEAD = update(t.audit_head).where(t.audit_head.c.id == 1).values(
    seq=bindparam("new_seq"), entry_hash=bindparam("new_hash")).execution_options(**DEFERRED)


class AuditRepository:
    """Append-only: there is no update or delete of entries here, by design."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._locked_head: tuple[int, str] | None = None  # the head as this transaction holds it

    def lock_head(self) -> tuple[int, str]:
        # FOR UPDATE serialises appenders on PostgreSQL; SQLite already holds the write lock
        # (BEGIN IMMEDIATE) and ignores the clause. Once locked, nobody else moves the head before
        # this transaction ends, so later appends in it (a writer batch) need not read it again.
        if self._locked_head is None:
            seq, entry_hash = self._conn.execute(_LOCK_HEAD).one()
            self._locked_head = int(seq), str(entry_hash)
        return self._locked_head

    def forget_head(self) -> None:
        """After a rollback to a savepoint: the head may be back where it was."""
        self._locked_head = None

    def head(self) -> tuple[int, str]:
        seq, entry_hash = self._conn.execute(_READ_HEAD).one()
        return int(seq), str(entry_hash)

    def append(self, rows: Sequence[RawEntry], events: Sequence[ItemEvent] = ()) -> None:
        """Insert rows already chained by the caller, and move the head to the last one; with `events`,
        the item events that cite them (ItemsRepository.add_events), in the same round trip where one can."""
        if not rows:
            ItemsRepository(self._conn).add_events(events)
            return
        dialect = self._conn.dialect
        if dialect.name == "postgresql" and len(rows) <= _APPEND_IN_ONE_PG and len(events) <= _APPEND_IN_ONE_PG:
            parameters: list[Any] = [value for row in rows for value in row]
            for e in events:
                parameters += (e.item_id, _AT.process_bind_param(e.at, dialect), e.actor_id, e.kind, e.counterparty,
                               e.detail, e.receipt, e.audit_seq)
            parameters += (rows[-1][0], rows[-1][10])
            self._conn.exec_driver_sql(_append_pg(len(rows), len(events)), tuple(parameters),
                                       execution_options=DEFERRED)
        else:
            self._conn.exec_driver_sql(INSERT_ENTRIES_SQL[dialect.paramstyle], list(rows), execution_options=DEFERRED)
            self._conn.execute(_MOVE_HEAD, {"new_seq": rows[-1][0], "new_hash": rows[-1][10]})
            ItemsRepository(self._conn).add_events(events)
        self._locked_head = rows[-1][0], rows[-1][10]

    def tail(self, count: int) -> list[AuditEntry]:
        c = t.audit_entries.c
        rows = self._conn.execute(select(*[c[n] for n in ENTRY_COLUMNS]).order_by(c.seq.desc()).limit(count))
        return [entry_from_raw(tuple(row)) for row in reversed(list(rows))]

    def first_seq_since(self, at: str) -> int | None:
        c = t.audit_entries.c
        return self._conn.execute(select(func.min(c.seq)).where(c.at >= at)).scalar()

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._conn.execute(insert(t.audit_checkpoints).values(
            count=checkpoint.count, head_hash=checkpoint.head_hash, at=checkpoint.at,
            key_id=checkpoint.key_id, signature=checkpoint.signature))

    def checkpoints(self) -> list[Checkpoint]:
        c = t.audit_checkpoints.c
        query = select(c.count, c.head_hash, c.at, c.key_id, c.signature).order_by(c.count, c.id)
        return [Checkpoint(int(r[0]), r[1], r[2], r[3], bytes(r[4])) for r in self._conn.execute(query)]

    def last_checkpoint_count(self) -> int:
        """How many entries the newest checkpoint covers (0: none yet)."""
        return int(self._conn.execute(select(func.max(t.audit_checkpoints.c["count"]))).scalar() or 0)

    def entry_hashes(self, first: int, last: int) -> list[str]:
        """The stored hashes of entries first..last, in order (what partners keep copies of)."""
        c = t.audit_entries.c
        query = select(c.entry_hash).where(c.seq >= first, c.seq <= last).order_by(c.seq)
        return [str(row[0]) for row in self._conn.execute(query)]


def entry_from_raw(row: RawEntry) -> AuditEntry:
    seq, at, actor, via, action, subject, decision, rules, reasons, prev_hash, entry_hash = row
    return AuditEntry(int(seq), at, actor, via, action, subject, decision, tuple(json.loads(rules)),
                      tuple(json.loads(reasons)), prev_hash, entry_hash)


def stream_raw_entries(engine: Engine, from_seq: int = 1, batch: int = 20_000,
                       to_seq: int | None = None) -> Generator[list[RawEntry]]:
    """Batches of raw DB-API rows in seq order: no ORM or Row objects, so verification stays fast.

    `to_seq` bounds the walk to what a head row read earlier covers, so that entries appended
    meanwhile (the node keeps working while it is verified) are not mistaken for a broken head.
    PostgreSQL streams through a server-side cursor; SQLite's cursor already steps lazily.
    """
    bound = 2**62 if to_seq is None else to_seq
    sql = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM audit_entries WHERE seq >= %s AND seq <= %s ORDER BY seq"
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            cursor = raw.driver_connection.cursor(name="gsomia_audit_stream")  # type: ignore[union-attr]
            cursor.itersize = batch
        else:
            cursor = raw.cursor()
            sql = sql.replace("%s", "?")
        try:
            cursor.execute(sql, (from_seq, bound))
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            cursor.close()  # also when the caller stops early (verification found a problem)
    finally:
        raw.rollback()
        raw.close()
