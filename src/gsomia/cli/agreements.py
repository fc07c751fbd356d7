"""`gsomia agreements list | show ID | status ID --at TIME`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

# Each command imports what it needs as it runs: `gsomia --help` builds every command and must stay light.

agreements_app = typer.Typer(help="The agreements this node enforces, and their life.", no_args_is_help=True)

AtOption = Annotated[Optional[str], typer.Option("--at", help="ISO 8601 time (default: now)")]  # noqa: UP007
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def _at(text: str | None) -> datetime:
    from gsomia.cli.common import clear_errors
    from gsomia.domain.timeutil import parse_instant

    with clear_errors():
        return parse_instant(text) if text else datetime.now(timezone.utc)


@agreements_app.command("list")
def list_agreements(at: AtOption = None, as_json: JsonOption = False) -> None:
    """Every agreement, with its condition at a time."""
    from rich.table import Table

    from gsomia.cli.common import catalog, console, print_json
    from gsomia.domain.life import status_at
    from gsomia.services.agreements import agreement_dict, status_dict

    when = _at(at)
    rows = [(a, status_at(a, when)) for a in catalog().agreements]
    if as_json:
        print_json([{**agreement_dict(a), "status": status_dict(s)} for a, s in rows])
        return
    table = Table(title=f"Agreements on {when:%Y-%m-%d %H:%M %Z}")
    table.add_column("id", no_wrap=True)
    for column in ("parties", "binding", "highest", "scope", "condition"):
        table.add_column(column)
    for a, s in rows:
        table.add_row(a.id, ", ".join(sorted(a.parties)), "yes" if a.binding else "no (T7)", a.highest_tier.banner,
                      ", ".join(sorted(a.scope_topics)) if a.scope_topics else "all military", s.condition)
    console.print(table)


@agreements_app.command("show")
def show(agreement_id: str, as_json: JsonOption = False) -> None:
    """One agreement in full: parties, scope, table, paths, life, notices."""
    from rich.table import Table

    from gsomia.cli.common import catalog, clear_errors, console, print_json
    from gsomia.services.agreements import agreement_dict

    with clear_errors():
        a = catalog().agreement(agreement_id)
    data = agreement_dict(a)
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{a.title}[/] ({a.id} v{a.version})")
    console.print(f"parties: {', '.join(sorted(a.parties))}; binding: {a.binding}; highest: {a.highest_tier.banner}")
    console.print(f"scope: {a.scope_note}")
    table = Table(title="Equivalence")
    parties = sorted(a.parties)
    table.add_column("tier")
    for p in parties:
        table.add_column(p)
    schemes = catalog().schemes
    for row in a.equivalence:
        table.add_row(row.tier.banner, *(", ".join(schemes.scheme(p).level(c).marking for c in row.codes.get(p, ()))
                                        for p in parties))
    console.print(table)
    for r in a.relays:
        console.print(f"relay: {r.origin} → {r.via} → {r.to}, with the written consent of {r.consent_by}")
    console.print(f"life: signed {a.life.signed}; term {a.life.term_years or 'open'} year(s);"
                  f" auto-renew {a.life.auto_renew}; notice {a.life.notice_days} days")
    for n in a.notices:
        console.print(f"notice {n.id}: {n.kind} by {n.by} given {n.given}; suspended {n.suspended};"
                      f" withdrawn {n.withdrawn}")


@agreements_app.command("status")
def status(agreement_id: str, at: AtOption = None, as_json: JsonOption = False) -> None:
    """The agreement's condition at a time: not yet in force, in force (notice pending/suspended), terminated."""
    from gsomia.cli.common import catalog, clear_errors, console, print_json
    from gsomia.domain.life import status_at
    from gsomia.services.agreements import status_dict

    when = _at(at)
    with clear_errors():
        a = catalog().agreement(agreement_id)
    s = status_at(a, when)
    if as_json:
        print_json(status_dict(s))
        return
    console.print(f"{a.id} on {s.on}: [bold]{s.condition}[/]")
    if s.entered_into_force:
        console.print(f"in force since {s.entered_into_force}")
    if s.term_ends:
        console.print(f"current term ends {s.term_ends}; notice to end it due by {s.notice_deadline}")
    if s.terminates_on:
        console.print(f"terminates on {s.terminates_on}")
    for n in s.notices:
        console.print(f"notice {n.notice.id} ({n.notice.by}): {n.state.value}")
