"""Agreement events: what happens to an agreement after its text was shipped, as data (Art. 21).

    termination   a party's written notice of termination (R21.3): a new notice of the agreement
    suspension    the effect of that notice suspended (KOR, 22 Nov 2019)
    lifting       the suspension lifted: the notice takes effect, at once if its date has passed
    withdrawal    the notice withdrawn (KOR, 21 Mar 2023): it ends nothing
    amendment     new terms by mutual written consent (R21.2): rows added to the equivalence table, the
                  highest level changed; the agreement's version number goes up by one

The shipped data stays the baseline; `apply_events(baseline, events)` is the agreement they make, a pure
function (events in the order of their dates), and `build_catalog` the catalogue of every agreement so
made, each with its version (domain/versions.py). Notices keep their own life in time (domain/life.py):
a notice recorded today that takes effect next November changes the status from next November on. An
amendment has no such life: its terms hold for every decision made once it is applied, and it is recorded
once in force (its date given is when it entered into force).

A notice act names the notice it concerns (`notice`); one notice may be suspended once (and the
suspension lifted once): a second suspension is refused as not representable.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from gsomia.domain.agreements import Agreement, EquivalenceRow, Notice, equivalence_row
from gsomia.domain.catalog import Catalog, versions_for
from gsomia.domain.errors import DomainError
from gsomia.domain.life import entry_into_force, notice_effective_on
from gsomia.domain.officials import Official, OfficialStatus, Role
from gsomia.domain.requests import Decision, refusal
from gsomia.domain.schemes import Schemes, Tier
from gsomia.domain.versions import digest_of

MAX_REFERENCE = 2000
IDENT = re.compile(r"[A-Za-z0-9._-]{1,64}")
LATEST_DATE = date(2999, 12, 31)  # a sane bound: the life's arithmetic walks year by year


class EventKind(str, enum.Enum):
    TERMINATION = "termination"
    SUSPENSION = "suspension"
    LIFTING = "lifting"
    WITHDRAWAL = "withdrawal"
    AMENDMENT = "amendment"


NOTICE_ACTS = frozenset({EventKind.SUSPENSION, EventKind.LIFTING, EventKind.WITHDRAWAL})
_ORDER = {kind: i for i, kind in enumerate(EventKind)}  # on one date: a notice before its suspension …


@dataclass(frozen=True, slots=True)
class Amendment:
    add_rows: tuple[EquivalenceRow, ...] = ()
    highest_tier: Tier | None = None

    def data(self) -> dict[str, Any]:
        return {"add_rows": [{"tier": r.tier.name, **{p: list(c) for p, c in sorted(r.codes.items())}}
                             for r in self.add_rows],
                "highest_tier": self.highest_tier.name if self.highest_tier is not None else None}

    def describe(self) -> str:
        parts = [" = ".join(f"{p}:{'/'.join(c)}" for p, c in sorted(r.codes.items())) + f" ({r.tier.banner})"
                 for r in self.add_rows]
        if self.highest_tier is not None:
            parts.append(f"highest level {self.highest_tier.banner}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class AgreementEvent:
    id: str
    agreement: str
    kind: EventKind
    by: str                        # the party whose act it is
    given: date                    # delivered in writing (a notice), or entered into force (an amendment)
    reference: str                 # the document: a note verbale's number, a treaty series entry …
    decided: date | None = None    # when the party decided it, where that differs
    notice: str | None = None      # the notice a suspension, lifting or withdrawal concerns
    amendment: Amendment | None = None

    def data(self) -> dict[str, Any]:
        return {"id": self.id, "agreement": self.agreement, "kind": self.kind.value, "by": self.by,
                "given": self.given, "decided": self.decided, "reference": self.reference, "notice": self.notice,
                "amendment": self.amendment.data() if self.amendment is not None else None}

    @property
    def digest(self) -> str:
        return digest_of(self.data())

    @property
    def rule(self) -> str:
        """The rule of the book the act falls under: amendment R21.2, notices R21.3."""
        return "R21.2" if self.kind is EventKind.AMENDMENT else "R21.3"

    def describe(self) -> str:
        decided = f" (decided {self.decided})" if self.decided and self.decided != self.given else ""
        what = f"{self.kind.value} by {self.by}"
        if self.notice is not None:
            what += f" of notice {self.notice}"
        if self.amendment is not None:
            what += f": {self.amendment.describe()}"
        return f"{what}, given {self.given}{decided}, reference {self.reference}"


# --- from data -------------------------------------------------------------------------------------------


def _text(data: Mapping[str, Any], key: str, what: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise DomainError(f"{what}: {key} is missing")
        return None
    if not isinstance(value, str) or len(value) > MAX_REFERENCE:
        raise DomainError(f"{what}: {key} is not a text of at most {MAX_REFERENCE} characters")
    return value.strip()


def _day(data: Mapping[str, Any], key: str, what: str) -> date | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        raise DomainError(f"{what}: {key} is a date, not a time")
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value))
        except ValueError:
            raise DomainError(f"{what}: {key} {value!r} is not a date (e.g. 2019-08-23)") from None
    return value


def event_from_dict(data: Mapping[str, Any], catalog: Catalog) -> AgreementEvent:
    """An event from plain data (a request, a stored row, a partner's signed record); errors name the field."""
    what = f"agreement event {str(data.get('id', ''))[:64]}".strip()
    ident, agreement_id = _text(data, "id", what), _text(data, "agreement", what)
    assert ident is not None and agreement_id is not None  # required
    if not IDENT.fullmatch(ident):
        raise DomainError(f"{what}: an id is 1 to 64 letters, digits, '.', '_' or '-'")
    agreement = catalog.agreement(agreement_id)
    try:
        kind = EventKind(data.get("kind"))
    except ValueError:
        raise DomainError(f"{what}: kind must be one of {', '.join(k.value for k in EventKind)}") from None
    by = _text(data, "by", what)
    if by not in agreement.parties:
        raise DomainError(f"{what}: {by} is not a party to {agreement.id} ({', '.join(sorted(agreement.parties))})")
    given, decided = _day(data, "given", what), _day(data, "decided", what)
    if given is None:
        raise DomainError(f"{what}: given (the date) is missing")
    if not agreement.life.signed <= given <= LATEST_DATE:
        raise DomainError(f"{what}: given {given} is before {agreement.id} was signed ({agreement.life.signed})"
                          if given < agreement.life.signed else f"{what}: given {given} is too far ahead")
    if decided is not None and not agreement.life.signed <= decided <= given:
        raise DomainError(f"{what}: decided {decided} must fall between the signature ({agreement.life.signed})"
                          f" and the date given ({given})")
    reference = _text(data, "reference", what)
    assert reference is not None
    notice = _text(data, "notice", what, required=False)
    if notice is not None and not IDENT.fullmatch(notice):
        raise DomainError(f"{what}: notice {notice[:80]!r} is not a notice's id")
    if (notice is not None) != (kind in NOTICE_ACTS):
        raise DomainError(f"{what}: a suspension, lifting or withdrawal names the notice it concerns, and"
                          " nothing else does")
    amendment = _amendment(data.get("amendment"), agreement, catalog.schemes, what)
    if (amendment is None) == (kind is EventKind.AMENDMENT):
        raise DomainError(f"{what}: an amendment, and only an amendment, says what it changes")
    return AgreementEvent(ident, agreement.id, kind, by, given, reference, decided, notice, amendment)


def _amendment(data: Any, agreement: Agreement, schemes: Schemes, what: str) -> Amendment | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or set(data) - {"add_rows", "highest_tier"}:
        raise DomainError(f"{what}: an amendment has add_rows and highest_tier, nothing else")
    rows = data.get("add_rows") or []
    if not isinstance(rows, list):
        raise DomainError(f"{what}: add_rows is not a list of rows")
    added = tuple(equivalence_row(row, f"{what} add_rows[{i}]", agreement.parties, schemes)
                  for i, row in enumerate(rows))
    highest = data.get("highest_tier")
    try:
        tier = Tier[str(highest)] if highest is not None else None
    except KeyError:
        raise DomainError(f"{what}: unknown tier {highest!r} (known: {', '.join(t.name for t in Tier)})") from None
    if not added and tier is None:
        raise DomainError(f"{what}: an amendment adds rows to the equivalence table or changes the highest level")
    return Amendment(added, tier)


# --- applying them ---------------------------------------------------------------------------------------


def in_order(events: Iterable[AgreementEvent]) -> list[AgreementEvent]:
    """By date; on one date a notice before its suspension, lifting and withdrawal; then by id."""
    return sorted(events, key=lambda e: (e.given, _ORDER[e.kind], e.id))


def apply_events(baseline: Agreement, events: Iterable[AgreementEvent]) -> Agreement:
    """The agreement as `baseline` and `events` make it; DomainError if an event does not fit (naming it)."""
    agreement = baseline
    for event in in_order(events):
        if event.agreement != baseline.id:
            raise DomainError(f"event {event.id} is about {event.agreement}, not {baseline.id}")
        if event.kind is EventKind.TERMINATION:
            if any(n.id == event.id for n in agreement.notices):
                raise DomainError(f"{agreement.id} has a notice {event.id} already")
            notice = Notice(event.id, "termination", event.by, event.given, note=event.reference)
            agreement = replace(agreement, notices=(*agreement.notices, notice))
        elif event.kind is EventKind.AMENDMENT:
            assert event.amendment is not None  # event_from_dict makes sure
            agreement = _amended(agreement, event, event.amendment)
        else:
            agreement = replace(agreement, notices=tuple(_act_on(agreement, n, event) if n.id == event.notice else n
                                                         for n in agreement.notices))
            if not any(n.id == event.notice for n in agreement.notices):
                raise DomainError(f"{event.kind.value} {event.id}: {agreement.id} has no notice {event.notice!r}")
    return agreement


def _act_on(agreement: Agreement, notice: Notice, event: AgreementEvent) -> Notice:
    kind, on = event.kind.value, event.given
    if notice.by != event.by:
        raise DomainError(f"{kind} {event.id}: notice {notice.id} is {notice.by}'s, and only {notice.by} acts on it")
    if on < notice.given:
        raise DomainError(f"{kind} {event.id} on {on} comes before notice {notice.id} was given ({notice.given})")
    if notice.withdrawn is not None:
        raise DomainError(f"{kind} {event.id}: notice {notice.id} was withdrawn on {notice.withdrawn}")
    start = entry_into_force(agreement.life, agreement.parties)
    effective = notice_effective_on(agreement.life, start, notice) if start is not None else None
    if effective is not None and on >= effective:
        raise DomainError(f"{kind} {event.id} on {on} comes too late: notice {notice.id} took effect on"
                          f" {effective} (R21.4)")
    if event.kind is EventKind.SUSPENSION:
        if notice.suspended is not None:
            raise DomainError(f"suspension {event.id}: notice {notice.id} was suspended on {notice.suspended}"
                              " already; a second suspension is not representable")
        return replace(notice, suspended=on)
    if event.kind is EventKind.LIFTING:
        if notice.suspended is None or notice.resumed is not None:
            raise DomainError(f"lifting {event.id}: notice {notice.id} is not suspended on {on}")
        return replace(notice, resumed=on)
    return replace(notice, withdrawn=on)


def _amended(agreement: Agreement, event: AgreementEvent, amendment: Amendment) -> Agreement:
    rows = list(agreement.equivalence)
    for row in amendment.add_rows:
        if row.codes.keys() != agreement.parties:
            raise DomainError(f"amendment {event.id}: a new row gives every party of {agreement.id} its marking")
        for party, codes in row.codes.items():
            for code in codes:
                held = next((r for r in rows if code in r.codes.get(party, ())), None)
                if held is not None:
                    raise DomainError(f"amendment {event.id}: {party}:{code} is in {agreement.id}'s table already"
                                      f" ({held.tier.banner})")
        rows.append(row)
    highest = amendment.highest_tier if amendment.highest_tier is not None else agreement.highest_tier
    if not amendment.add_rows and highest == agreement.highest_tier:
        raise DomainError(f"amendment {event.id}: the highest level of {agreement.id} is {highest.banner} already")
    return replace(agreement, equivalence=tuple(rows), highest_tier=highest, version=agreement.version + 1)


def build_catalog(baseline: Catalog, events: Iterable[AgreementEvent]) -> Catalog:
    """The baseline catalogue with `events` applied, every agreement with its version (baseline + events)."""
    by_agreement: dict[str, list[AgreementEvent]] = {}
    for event in events:
        baseline.agreement(event.agreement)  # UnknownAgreement
        by_agreement.setdefault(event.agreement, []).append(event)
    baselines = {a.id: a for a in baseline.agreements}
    applied = [apply_events(a, by_agreement.get(a.id, ())) for a in baselines.values()]
    versions = versions_for(baselines, {i: [(e.id, e.digest) for e in es] for i, es in by_agreement.items()})
    return Catalog(baseline.schemes, applied, versions)


def current_notice(agreement: Agreement, by: str) -> str | None:
    """The notice a party's suspension, lifting or withdrawal concerns when none is named: its latest
    termination notice not withdrawn."""
    open_notices = [n for n in agreement.notices if n.by == by and n.kind == "termination" and n.withdrawn is None]
    return max(open_notices, key=lambda n: (n.given, n.id)).id if open_notices else None


# --- who may record one ------------------------------------------------------------------------------------


def decide_recording(subject: Official, party: str, agreement: Agreement, what: str, rule: str) -> Decision:
    """May `subject` record (confirm, reject) `what` about `agreement` on `party`'s node? Only an active
    security officer of that party (R6.e, G2), a party to the agreement (G3)."""
    problems: list[tuple[str, str]] = []
    who = subject.id or f"the {subject.party} official"
    if subject.status is not OfficialStatus.ACTIVE:
        problems.append(("R6.e", f"{who} is {subject.status.value}, not an active appointed official."))
    if Role.SECURITY_OFFICER not in subject.roles:
        held = ", ".join(sorted(r.value for r in subject.roles)) or "no role"
        problems.append(("R6.e", f"{what} is for a security officer; {who} holds {held}."))
    if subject.party != party:
        problems.append(("G2", f"a {subject.party} official does not act for {party}'s node."))
    if party not in agreement.parties:
        problems.append(("G3", f"{party} is not a party to {agreement.id}."))
    if problems:
        return refusal(tuple(dict.fromkeys(rule for rule, _ in problems)), *(reason for _, reason in problems),
                       agreement=agreement.id)
    return Decision(True, ("R6.e", rule), (f"{who}, security officer of {party}, may record {what}.",), agreement.id)
