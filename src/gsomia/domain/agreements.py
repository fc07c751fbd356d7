"""Agreements as data: parties, scope, equivalence table, paths, life and notices.

An agreement is built from a plain mapping (a parsed data file); nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timezone
from typing import Any

from gsomia.domain.errors import DomainError
from gsomia.domain.schemes import Classification, Schemes, Tier
from gsomia.domain.timeutil import parse_offset

# Which rule of the book each agreement-level check cites, unless the agreement's data says otherwise.
DEFAULT_RULE_IDS = {
    "scope": "R4.1",          # only what the agreement covers
    "table": "R4.1",          # only the markings in its table
    "highest": "R4.3",        # the top tier excluded
    "path": "T4",             # paths that must go through a hub
    "relay_consent": "T5",    # the originator's approval for the hub to pass it on
}


@dataclass(frozen=True, slots=True)
class EquivalenceRow:
    """One row of the table: the markings each party treats as the same tier."""

    tier: Tier
    codes: Mapping[str, tuple[str, ...]]

    def marking_for(self, party: str) -> Classification | None:
        codes = self.codes.get(party)
        return Classification(party, codes[0]) if codes else None


@dataclass(frozen=True, slots=True)
class Relay:
    """A path that must go through a hub (T4), with whose written approval (T5)."""

    origin: str
    to: str
    via: str
    consent_by: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A written notice (termination) with its own life: given, maybe suspended, resumed or withdrawn."""

    id: str
    kind: str
    by: str
    given: date
    suspended: date | None = None
    resumed: date | None = None
    withdrawn: date | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Life:
    signed: date
    signed_by: frozenset[str]
    notifications: Mapping[str, date]
    entry_into_force: date | None = None      # explicit, for arrangements effective on signature
    term_years: int = 0                       # 0: no fixed term
    auto_renew: bool = False
    renewal_years: int = 1
    notice_days: int = 90
    notice_reference: str = "last_day_of_term"  # or "anniversary": the day-count convention (R21.3)


@dataclass(frozen=True)
class Agreement:
    id: str
    version: int
    title: str
    parties: frozenset[str]
    binding: bool
    timezone: timezone
    highest_tier: Tier
    scope_topics: frozenset[str] | None       # None: all classified military information
    scope_note: str
    direct_paths: frozenset[frozenset[str]]
    relays: tuple[Relay, ...]
    equivalence: tuple[EquivalenceRow, ...]
    life: Life
    notices: tuple[Notice, ...] = ()
    rides_on: tuple[str, ...] = ()
    rule_ids: Mapping[str, str] = field(default_factory=dict)
    _rows: Mapping[Classification, EquivalenceRow] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rows = {Classification(p, c): row for row in self.equivalence for p, cs in row.codes.items() for c in cs}
        object.__setattr__(self, "_rows", rows)

    def rule(self, check: str) -> str:
        """The rule id a check cites under this agreement (data may override the defaults)."""
        return self.rule_ids.get(check) or DEFAULT_RULE_IDS[check]

    def row_for(self, classification: Classification) -> EquivalenceRow | None:
        return self._rows.get(classification)

    def equivalent(self, classification: Classification, party: str) -> Classification | None:
        row = self._rows.get(classification)
        return row.marking_for(party) if row else None

    def covers_topics(self, topics: frozenset[str]) -> bool:
        return self.scope_topics is None or (bool(topics) and topics <= self.scope_topics)

    def is_direct(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.direct_paths

    def relay(self, origin: str, to: str, via: str | None = None) -> Relay | None:
        for r in self.relays:
            if r.origin == origin and r.to == to and (via is None or r.via == via):
                return r
        return None


# --- building from data --------------------------------------------------------------------------


def _date(value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DomainError(f"{what}: {value!r} is not a date") from None


def _opt_date(value: Any, what: str) -> date | None:
    return None if value in (None, "") else _date(value, what)


def _tier(value: Any, what: str) -> Tier:
    try:
        return Tier[str(value)]
    except KeyError:
        raise DomainError(f"{what}: unknown tier {value!r} (known: {', '.join(t.name for t in Tier)})") from None


def equivalence_row(row: Mapping[str, Any], where: str, parties: frozenset[str], schemes: Schemes) -> EquivalenceRow:
    """One row of a table from data: `{"tier": "SECRET", "KOR": ["II"], "JPN": ["GOKUHI"]}` (R4.1)."""
    if not isinstance(row, Mapping) or "tier" not in row:
        raise DomainError(f"{where}: a row is a tier and each party's markings")
    tier = _tier(row["tier"], where)
    codes = {}
    for party, party_codes in row.items():
        if party == "tier":
            continue
        if party not in parties:
            raise DomainError(f"{where}: the row names {party}, not a party to the agreement")
        if isinstance(party_codes, str) or not isinstance(party_codes, (list, tuple)) or not party_codes:
            raise DomainError(f"{where}: {party}'s markings are not a list of codes")
        scheme = schemes.scheme(party)
        codes[party] = tuple(scheme.level(str(c)).code for c in party_codes)
    return EquivalenceRow(tier, codes)


def agreement_from_dict(data: Mapping[str, Any], schemes: Schemes) -> Agreement:
    """Validate and build an agreement from its data file's contents; errors name the field."""
    try:
        ident = str(data["id"])
        parties = frozenset(schemes.require_party(str(p)) for p in data["parties"])
        rows = [equivalence_row(row, f"{ident} equivalence[{i}]", parties, schemes)
                for i, row in enumerate(data.get("equivalence", []))]
        life_data = data["life"]
        life = Life(
            signed=_date(life_data["signed"], f"{ident} life.signed"),
            signed_by=frozenset(life_data.get("signed_by", ())),
            notifications={p: _date(d, f"{ident} notification {p}")
                           for p, d in life_data.get("notifications", {}).items()},
            entry_into_force=_opt_date(life_data.get("entry_into_force"), f"{ident} life.entry_into_force"),
            term_years=int(life_data.get("term_years", 0)),
            auto_renew=bool(life_data.get("auto_renew", False)),
            renewal_years=int(life_data.get("renewal_years", 1)),
            notice_days=int(life_data.get("notice_days", 90)),
            notice_reference=str(life_data.get("notice_reference", "last_day_of_term")),
        )
        if life.notice_reference not in ("last_day_of_term", "anniversary"):
            raise DomainError(f"{ident}: notice_reference must be last_day_of_term or anniversary")
        binding = bool(data.get("binding", True))
        # R21.2: a binding agreement (or amendment) exists only with every party's signature.
        if binding and life.signed_by != parties:
            raise DomainError(f"{ident}: a binding agreement must be signed by all its parties (R21.2)")
        notices = tuple(
            Notice(
                id=str(n.get("id", f"{ident}-notice-{i}")), kind=str(n.get("kind", "termination")),
                by=schemes.require_party(str(n["by"])), given=_date(n["given"], f"{ident} notice given"),
                suspended=_opt_date(n.get("suspended"), f"{ident} notice suspended"),
                resumed=_opt_date(n.get("resumed"), f"{ident} notice resumed"),
                withdrawn=_opt_date(n.get("withdrawn"), f"{ident} notice withdrawn"),
                note=str(n.get("note", "")),
            )
            for i, n in enumerate(data.get("notices", []))
        )
        topics = data.get("scope_topics") or []
        direct = data.get("direct_paths")
        all_pairs = {frozenset((a, b)) for a in parties for b in parties if a != b}
        relays = tuple(
            Relay(origin=str(r["from"]), to=str(r["to"]), via=str(r["via"]), consent_by=str(r["consent_by"]))
            for r in data.get("relays", [])
        )
        for r in relays:
            if not {r.origin, r.to, r.via, r.consent_by} <= parties:
                raise DomainError(f"{ident}: relay {r.origin}→{r.via}→{r.to} names a non-party")
        return Agreement(
            id=ident,
            version=int(data.get("version", 1)),
            title=str(data.get("title", ident)),
            parties=parties,
            binding=binding,
            timezone=parse_offset(str(data.get("timezone", "+00:00"))),
            highest_tier=_tier(data.get("highest_tier", "TOP_SECRET"), f"{ident} highest_tier"),
            scope_topics=frozenset(str(t) for t in topics) if topics else None,
            scope_note=str(data.get("scope_note", "")),
            direct_paths=frozenset(frozenset(p) for p in direct) if direct is not None else frozenset(all_pairs),
            relays=relays,
            equivalence=tuple(rows),
            life=life,
            notices=notices,
            rides_on=tuple(str(a) for a in data.get("rides_on", ())),
            rule_ids={str(k): str(v) for k, v in data.get("rule_ids", {}).items()},
        )
    except KeyError as missing:
        raise DomainError(f"agreement {data.get('id', '?')}: missing field {missing.args[0]!r}") from None
    except (TypeError, ValueError) as bad:
        if isinstance(bad, DomainError):
            raise
        raise DomainError(f"agreement {data.get('id', '?')}: {bad}") from None
