"""Repository for the life of agreements: events (ours and partners'), the answers partners gave to ours, the
versions partners last said they hold, and the generation of applied events (a unit of work's `agreements`).

An event is applied here when it is `recorded` (by this node's security officer) or `confirmed` (a
partner's, confirmed by ours); `proposed` waits for our officer; `rejected` counts nowhere.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from gsomia.storage import tables as t

RECORDED, PROPOSED, CONFIRMED, REJECTED = "recorded", "proposed", "confirmed", "rejected"
APPLIED = (RECORDED, CONFIRMED)


@dataclass(frozen=True, slots=True)
class AgreementEventRecord:
    id: str
    agreement: str
    kind: str
    by_party: str
    given: date
    decided: date | None
    reference: str
    notice: str | None
    amendment: str | None       # canonical JSON
    origin: str                 # the party whose node recorded it
    recorded_by: str            # that node's security officer
    recorded_at: datetime
    digest: str
    record: bytes               # the origin's signed record
    state: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None

    @property
    def applied(self) -> bool:
        return self.state in APPLIED


@dataclass(frozen=True, slots=True)
class EventAnswer:
    """A party's signed confirmation or rejection of an event."""
    event_id: str
    party: str
    confirmed: bool
    reason: str
    at: datetime
    record: bytes


@dataclass(frozen=True, slots=True)
class PeerVersion:
    """The version of an agreement a partner last said it holds."""
    peer: str
    agreement: str
    digest: str
    baseline: str
    events: tuple[tuple[str, str], ...]  # (event id, event digest)
    received_at: datetime


_EVENT_COLUMNS = [t.agreement_events.c[f.name] for f in fields(AgreementEventRecord)]
_GENERATION = select(t.agreement_generation.c.generation).where(t.agreement_generation.c.id == 1)
_BUMP = update(t.agreement_generation).where(t.agreement_generation.c.id == 1).values(generation=bindparam("new"))


def _values(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}


class AgreementsRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- events ---------------------------------------------------------------------------------------

    def add(self, event: AgreementEventRecord) -> None:
        self._conn.execute(insert(t.agreement_events), _values(event))

    def get(self, event_id: str) -> AgreementEventRecord | None:
        row = self._conn.execute(select(*_EVENT_COLUMNS).where(t.agreement_events.c.id == event_id)).first()
        return AgreementEventRecord(*row) if row is not None else None

    def events(self, agreement: str | None = None) -> list[AgreementEventRecord]:
        """Every event (of one agreement), in the order they were recorded."""
        query = select(*_EVENT_COLUMNS).order_by(t.agreement_events.c.recorded_at, t.agreement_events.c.id)
        if agreement is not None:
            query = query.where(t.agreement_events.c.agreement == agreement)
        return [AgreementEventRecord(*row) for row in self._conn.execute(query)]

    def applied(self) -> list[AgreementEventRecord]:
        """The events this node decides under: its own recorded ones and the partners' it confirmed."""
        query = select(*_EVENT_COLUMNS).where(t.agreement_events.c.state.in_(APPLIED))
        return [AgreementEventRecord(*row) for row in self._conn.execute(query)]

    def decide(self, event_id: str, *, state: str, by: str, at: datetime, reason: str | None = None) -> None:
        self._conn.execute(update(t.agreement_events).where(t.agreement_events.c.id == event_id)
                           .values(state=state, decided_by=by, decided_at=at, reason=reason))

    # --- answers --------------------------------------------------------------------------------------

    def answer(self, answer: EventAnswer) -> None:
        """A party's answer; a later one from the same party replaces it."""
        self._conn.execute(delete(t.agreement_event_answers).where(
            t.agreement_event_answers.c.event_id == answer.event_id, t.agreement_event_answers.c.party == answer.party))
        self._conn.execute(insert(t.agreement_event_answers), _values(answer))

    def answers(self, event_ids: list[str]) -> list[EventAnswer]:
        if not event_ids:
            return []
        query = (select(*[t.agreement_event_answers.c[f.name] for f in fields(EventAnswer)])
                 .where(t.agreement_event_answers.c.event_id.in_(bindparam("ids", expanding=True)))
                 .order_by(t.agreement_event_answers.c.at))
        return [EventAnswer(*row) for row in self._conn.execute(query, {"ids": event_ids})]

    # --- partners' versions ---------------------------------------------------------------------------

    def set_peer_version(self, version: PeerVersion) -> None:
        self._conn.execute(delete(t.agreement_peer_versions).where(
            t.agreement_peer_versions.c.peer == version.peer,
            t.agreement_peer_versions.c.agreement == version.agreement))
        values = _values(version)
        values["events"] = json.dumps([list(e) for e in version.events])
        self._conn.execute(insert(t.agreement_peer_versions), values)

    def peer_versions(self, agreement: str) -> list[PeerVersion]:
        query = (select(t.agreement_peer_versions).where(t.agreement_peer_versions.c.agreement == agreement)
                 .order_by(t.agreement_peer_versions.c.peer))
        return [_peer_version(row) for row in self._conn.execute(query)]

    # --- the generation -------------------------------------------------------------------------------

    def generation(self) -> int:
        return int(self._conn.execute(_GENERATION).scalar_one())

    def bump(self) -> int:
        """A new generation of applied events, first in the transaction that changes them: on PostgreSQL it
        holds the row until that commits, so such transactions take their turns and each reads the events
        as the one before left them. Random, not counted: a generation rolled back is never met again."""
        new = secrets.randbits(62) + 1
        self._conn.execute(_BUMP, {"new": new})
        return new


def _peer_version(row: Row[Any]) -> PeerVersion:
    data = dict(row._mapping)
    data["events"] = tuple((str(a), str(b)) for a, b in json.loads(data["events"]))
    return PeerVersion(**data)
