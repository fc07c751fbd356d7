"""`gsomia agreements …`: the agreements, their life, and the events a node records and shares.

    list | show ID | status ID [--at TIME] [--data DIR]   as the shipped data has them, or (--data) as the
                                                       node's agreement events make them
    notice ID --by PARTY --kind termination|suspension|lifting|withdrawal --given DATE --reference TEXT
              [--decided DATE] [--notice EVENT] --data DIR            the security officer records a notice
    amend ID --given DATE --reference TEXT [--add-row ROW]... [--highest TIER] --data DIR      an amendment
    events ID --data DIR          recorded (ours), proposed (a partner's), confirmed, rejected
    confirm EVENT | reject EVENT --reason TEXT --data DIR                   answering a partner's event
    versions ID --data DIR        our version of the agreement, and where each partner's differs

Exit codes as for every command (cli/options.py). Each command imports its work as it runs
(agreement_views.py and the services): `gsomia --help` builds every command and must stay light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gsomia.cli.options import DataOption, JsonOption

agreements_app = typer.Typer(help="The agreements this node enforces, and their life.", no_args_is_help=True)

AtOption = Annotated[Optional[str], typer.Option("--at", help="ISO 8601 time (default: now)")]  # noqa: UP007
# No GSOMIA_DATA here: without --data these commands answer from the shipped data, whatever the shell holds.
NodeOption = Annotated[Optional[Path], typer.Option(  # noqa: UP007
    "--data", help="A node's data directory: answer as its agreement events make the agreements.")]
DateOption = Annotated[str, typer.Option(help="ISO 8601 date, in the agreement's time zone")]
Reference = Annotated[str, typer.Option("--reference", help="The document: a note's number and date …")]
Decided = Annotated[Optional[str], typer.Option("--decided", help="When the party decided it, if another day")]  # noqa: UP007


@agreements_app.command("list")
def list_agreements(at: AtOption = None, as_json: JsonOption = False, data: NodeOption = None) -> None:
    """Every agreement, with its condition at a time."""
    from rich.table import Table

    from gsomia.cli.agreement_views import at_time, catalog_of
    from gsomia.cli.common import console, print_json
    from gsomia.services.agreements import agreement_dict, status_dict

    when = at_time(at)
    with catalog_of(data) as known:
        rows = [(a, known.status(a, when)) for a in known.agreements]
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
def show(agreement_id: str, as_json: JsonOption = False, data: NodeOption = None) -> None:
    """One agreement in full: parties, scope, table, paths, life, notices."""
    from rich.table import Table

    from gsomia.cli.agreement_views import catalog_of
    from gsomia.cli.common import clear_errors, console, print_json
    from gsomia.services.agreements import agreement_dict

    with catalog_of(data) as known, clear_errors():
        a, version, schemes = known.agreement(agreement_id), known.version(agreement_id), known.schemes
    if as_json:
        print_json({**agreement_dict(a), "version_digest": version.digest})
        return
    console.print(f"[bold]{a.title}[/] ({a.id} v{a.version}; version {version.short}: {version.describe()})")
    console.print(f"parties: {', '.join(sorted(a.parties))}; binding: {a.binding}; highest: {a.highest_tier.banner}")
    console.print(f"scope: {a.scope_note}")
    table = Table(title="Equivalence")
    parties = sorted(a.parties)
    table.add_column("tier")
    for p in parties:
        table.add_column(p)
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
                      f" resumed {n.resumed}; withdrawn {n.withdrawn}")


@agreements_app.command("status")
def status(agreement_id: str, at: AtOption = None, as_json: JsonOption = False, data: NodeOption = None) -> None:
    """The agreement's condition at a time: not yet in force, in force (notice pending/suspended), terminated."""
    from gsomia.cli.agreement_views import at_time, catalog_of
    from gsomia.cli.common import clear_errors, console, print_json
    from gsomia.services.agreements import status_dict

    when = at_time(at)
    with catalog_of(data) as known, clear_errors():
        a = known.agreement(agreement_id)
        s = known.status(a, when)
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
        verb = "took" if n.state.value == "effective" else "takes"
        effect = f", {verb} effect on {n.takes_effect_on}" if n.takes_effect_on else ""
        console.print(f"notice {n.notice.id} ({n.notice.by}): {n.state.value}{effect}")


# --- events ------------------------------------------------------------------------------------------------


@agreements_app.command("notice")
def notice(agreement_id: str, data: DataOption,
           by: Annotated[str, typer.Option("--by", help="The party that gave it, e.g. KOR")],
           kind: Annotated[str, typer.Option("--kind", help="termination, suspension, lifting or withdrawal")],
           given: Annotated[str, typer.Option("--given", help="ISO 8601 date it was given in writing")],
           reference: Reference, decided: Decided = None,
           notice_id: Annotated[Optional[str], typer.Option(  # noqa: UP007
               "--notice", help="The notice a suspension, lifting or withdrawal concerns (default: the latest)",
           )] = None,
           as_json: JsonOption = False) -> None:
    """The security officer records a notice (R21.3): signed, audited, applied here at once, proposed to the
    other parties of the agreement."""
    from gsomia.cli.agreement_views import day, print_event
    from gsomia.cli.node import acting, clean_errors, opened_node
    from gsomia.services import agreement_events

    given_on, decided_on = day(given, "--given"), day(decided, "--decided")
    assert given_on is not None
    with opened_node(data) as node, clean_errors():
        view = agreement_events.record_notice(node, acting(node), agreement_id, by=by.strip().upper(),
                                              kind=kind.strip().lower(), given=given_on, reference=reference,
                                              decided=decided_on, notice=notice_id)
    print_event(view, as_json)


@agreements_app.command("amend")
def amend(agreement_id: str, data: DataOption,
          given: Annotated[str, typer.Option("--given", help="ISO 8601 date it entered into force")],
          reference: Reference, decided: Decided = None,
          add_row: Annotated[Optional[list[str]], typer.Option(  # noqa: UP007
              "--add-row", help="A row of the equivalence table, e.g. TOP_SECRET:KOR=I,JPN=KIMITSU")] = None,
          highest: Annotated[Optional[str], typer.Option(  # noqa: UP007
              "--highest", help="The new highest level: CONFIDENTIAL, SECRET or TOP_SECRET")] = None,
          as_json: JsonOption = False) -> None:
    """The security officer records an amendment in force (R21.2): applied here at once, proposed to the others."""
    from gsomia.cli.agreement_views import day, equivalence_row, print_event
    from gsomia.cli.node import acting, clean_errors, opened_node
    from gsomia.services import agreement_events

    given_on, decided_on = day(given, "--given"), day(decided, "--decided")
    assert given_on is not None
    rows = [equivalence_row(text) for text in add_row or ()]
    with opened_node(data) as node, clean_errors():
        view = agreement_events.record_amendment(node, acting(node), agreement_id, given=given_on,
                                                 reference=reference, decided=decided_on, add_rows=rows,
                                                 highest_tier=highest.strip().upper() if highest else None)
    print_event(view, as_json)


@agreements_app.command("events")
def events(agreement_id: str, data: DataOption, as_json: JsonOption = False) -> None:
    """Every event of the agreement held by the node: recorded (ours), proposed (a partner's, awaiting our
    security officer), confirmed, rejected; with the other parties' answers."""
    from rich.table import Table

    from gsomia.cli.agreement_views import event_dict
    from gsomia.cli.common import console, print_json
    from gsomia.cli.node import acting, clean_errors, opened
    from gsomia.services import agreement_events

    with opened(data) as node, clean_errors():
        views = agreement_events.events(node, acting(node), agreement_id)
    if as_json:
        print_json([event_dict(v) for v in views])
        return
    table = Table("id", "kind", "by", "given", "reference", "origin", "state", "answers", title=agreement_id)
    table.columns[0].no_wrap = True  # an id is what the officer types next (confirm, reject)
    for v in views:
        r = v.record
        answers = "; ".join(f"{a.party} {'confirmed' if a.confirmed else 'rejected: ' + a.reason}" for a in v.answers)
        table.add_row(r.id, r.kind, r.by_party, str(r.given), r.reference, r.origin,
                      r.state + (f" ({r.reason})" if r.reason else ""), answers or "-")
    console.print(table)


@agreements_app.command("confirm")
def confirm(event_id: str, data: DataOption, as_json: JsonOption = False) -> None:
    """The security officer confirms a partner's proposed event: applied here from now on."""
    from gsomia.cli.agreement_views import print_event
    from gsomia.cli.node import acting, clean_errors, opened_node
    from gsomia.services import agreement_events

    with opened_node(data) as node, clean_errors():
        view = agreement_events.confirm(node, acting(node), event_id)
    print_event(view, as_json)


@agreements_app.command("reject")
def reject(event_id: str, data: DataOption,
           reason: Annotated[str, typer.Option("--reason", help="Why: it goes back to the recording node")],
           as_json: JsonOption = False) -> None:
    """The security officer rejects a partner's proposed event, with the reason its node is told."""
    from gsomia.cli.agreement_views import print_event
    from gsomia.cli.node import acting, clean_errors, opened_node
    from gsomia.services import agreement_events

    with opened_node(data) as node, clean_errors():
        view = agreement_events.reject(node, acting(node), event_id, reason)
    print_event(view, as_json)


@agreements_app.command("versions")
def versions(agreement_id: str, data: DataOption, as_json: JsonOption = False) -> None:
    """The node's version of the agreement (baseline + applied events) and where each partner's differs."""
    from gsomia.cli.common import console, print_json
    from gsomia.cli.node import acting, clean_errors, opened
    from gsomia.domain.timeutil import format_instant
    from gsomia.services import agreement_events

    with opened(data) as node, clean_errors():
        found = agreement_events.versions(node, acting(node), agreement_id)
    ours = found.ours
    rows = [{"party": p.party, "digest": p.digest, "same": p.same, "baseline_differs": p.baseline_differs,
             "only_ours": list(p.only_ours), "only_theirs": list(p.only_theirs),
             "content_differs": list(p.content_differs), "states_here": dict(p.states),
             "told_at": format_instant(p.told_at) if p.told_at else None} for p in found.partners]
    if as_json:
        print_json({"ours": {"digest": ours.digest, "baseline": ours.baseline,
                             "events": [{"id": i, "digest": d} for i, d in ours.events]}, "partners": rows})
        return
    console.print(f"{ours.agreement} here: version {ours.short} ({ours.describe()})", highlight=False,
                  soft_wrap=True)
    for p in found.partners:
        if p.digest is None:
            console.print(f"{p.party}: has not told us its version yet", highlight=False)
            continue
        if p.same:
            console.print(f"{p.party}: the same version", highlight=False)
            continue
        theirs = ", ".join(f"{i} ({state} here)" for i, state in p.states)
        differences = ([f"only here: {', '.join(p.only_ours)}"] if p.only_ours else []) + (
            [f"only at {p.party}: {theirs}"] if theirs else []) + (
            [f"other content: {', '.join(p.content_differs)}"] if p.content_differs else []) + (
            ["the shipped text differs"] if p.baseline_differs else [])
        console.print(f"{p.party}: version {p.digest[:12]}, differs: {'; '.join(differences)}", highlight=False)
