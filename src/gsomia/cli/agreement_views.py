"""What the `agreements` commands print and share, imported as they run (it brings the services and Rich):
the time and day options parsed, the catalogue a command answers from, an event as data and as text."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from gsomia.cli.common import catalog, clear_errors, console, print_json
from gsomia.cli.node import opened
from gsomia.cli.output import fail
from gsomia.domain.catalog import Catalog
from gsomia.domain.errors import DomainError
from gsomia.domain.timeutil import format_instant, parse_date, parse_instant
from gsomia.services.agreement_events import EventView


def at_time(text: str | None) -> datetime:
    with clear_errors():
        return parse_instant(text) if text else datetime.now(timezone.utc)


@contextmanager
def catalog_of(data: Path | None) -> Iterator[Catalog]:
    """The shipped catalogue, or (with a node's directory) the node's, as its agreement events make it."""
    if data is None:
        yield catalog()
        return
    with opened(data) as node:
        yield node.catalog


def day(text: str | None, what: str) -> date | None:
    try:
        return None if text is None else parse_date(text)
    except DomainError as bad:
        fail(f"{what}: {bad}")


def event_dict(view: EventView) -> dict[str, Any]:
    r = view.record
    return {"id": r.id, "agreement": r.agreement, "kind": r.kind, "by": r.by_party, "given": r.given.isoformat(),
            "decided": r.decided.isoformat() if r.decided else None, "reference": r.reference, "notice": r.notice,
            "amendment": view.amendment, "origin": r.origin, "recorded_by": r.recorded_by,
            "recorded_at": format_instant(r.recorded_at), "digest": r.digest, "state": r.state, "applied": r.applied,
            "decided_by": r.decided_by, "decided_at": format_instant(r.decided_at) if r.decided_at else None,
            "reason": r.reason, "answers": [{"party": a.party, "confirmed": a.confirmed, "reason": a.reason,
                                             "at": format_instant(a.at)} for a in view.answers]}


def print_event(view: EventView, as_json: bool) -> None:
    if as_json:
        print_json(event_dict(view))
        return
    r = view.record
    console.print(f"[bold]{r.id}[/]: {r.kind} of {r.agreement} by {r.by_party}, given {r.given}"
                  + (f" (decided {r.decided})" if r.decided else "") + f"; reference {r.reference}", highlight=False,
                  soft_wrap=True)
    console.print(f"state: [bold]{r.state}[/] ({'applied here' if r.applied else 'not applied here'});"
                  f" recorded by {r.origin} ({r.recorded_by}) at {format_instant(r.recorded_at)}", highlight=False,
                  soft_wrap=True)
    for a in view.answers:
        console.print(f"{a.party}: {'confirmed' if a.confirmed else 'rejected: ' + a.reason}", highlight=False)


def equivalence_row(text: str) -> dict[str, Any]:
    """`TOP_SECRET:KOR=I,JPN=KIMITSU` (a party's several codes joined by `/`) → a row as data."""
    tier, _, rest = text.partition(":")
    pairs = [part.partition("=") for part in rest.split(",") if part.strip()]
    if not tier.strip() or not pairs or any(not sep or not codes.strip() for _, sep, codes in pairs):
        fail(f"--add-row {text!r}: write TIER:PARTY=CODE,PARTY=CODE (e.g. TOP_SECRET:KOR=I,JPN=KIMITSU)")
    return {"tier": tier.strip().upper(),
            **{party.strip().upper(): [c.strip() for c in codes.split("/")] for party, _, codes in pairs}}
