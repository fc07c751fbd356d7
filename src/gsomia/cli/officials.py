"""`gsomia officials ...`: the register of cleared officials (R6.e)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from gsomia.cli.node import (
    DataOption,
    JsonOption,
    acting,
    clean_errors,
    opened,
    out,
    parse_time,
    print_fields,
    print_json,
)
from gsomia.domain.officials import OfficialStatus
from gsomia.domain.timeutil import format_instant
from gsomia.services import officials

app = typer.Typer(help="The register of cleared officials (R6.e).", no_args_is_help=True)

Reason = Annotated[str, typer.Option(help="Why: recorded with the change.")]
Topics = Annotated[list[str] | None, typer.Option("--topic", help="Need-to-know topic (repeat).")]
Roles = Annotated[list[str] | None, typer.Option("--role", help="reader, releasing_official, security_officer.")]


def _as_json(r: officials.OfficialRecord) -> dict[str, object]:
    o = r.official
    return {"id": o.id, "name": o.name, "party": o.party, "clearance": str(o.clearance),
            "granted": format_instant(r.clearance_granted),
            "expires": format_instant(o.clearance_expires) if o.clearance_expires else None,
            "need_to_know": sorted(o.need_to_know), "roles": sorted(x.value for x in o.roles),
            "status": o.status.value, "updated_at": format_instant(r.updated_at)}


def _show(r: officials.OfficialRecord, as_json: bool) -> None:
    print_fields(_as_json(r), as_json)


@app.command()
def appoint(
    data: DataOption, name: Annotated[str, typer.Option()], clearance: Annotated[str, typer.Option()],
    reason: Reason, expires: Annotated[str | None, typer.Option(help="ISO 8601")] = None,
    granted: Annotated[str | None, typer.Option(help="ISO 8601 (default: now)")] = None,
    topic: Topics = None, role: Roles = None, as_json: JsonOption = False,
) -> None:
    """Appoint an official (clearance of this node's party, e.g. KOR:II)."""
    expires_at, granted_at = parse_time(expires, "--expires"), parse_time(granted, "--granted")
    with opened(data) as node, clean_errors():
        record = officials.appoint(
            node, acting(node), name=name, clearance=clearance, granted=granted_at or node.clock(),
            expires=expires_at, need_to_know=topic or [], roles=role or ["reader"], reason=reason)
    _show(record, as_json)


@app.command()
def update(
    data: DataOption, official_id: str, reason: Reason,
    name: Annotated[str | None, typer.Option()] = None, clearance: Annotated[str | None, typer.Option()] = None,
    expires: Annotated[str | None, typer.Option(help="ISO 8601, or 'never'")] = None,
    granted: Annotated[str | None, typer.Option()] = None, topic: Topics = None, role: Roles = None,
    as_json: JsonOption = False,
) -> None:
    """Change an official's clearance, dates, topics or roles (only the options given)."""
    new_expiry = officials.KEEP if expires is None else None if expires == "never" else parse_time(expires, "--expires")
    granted_at = parse_time(granted, "--granted")
    with opened(data) as node, clean_errors():
        record = officials.update(node, acting(node), official_id, reason=reason, name=name,
                                  clearance=clearance, granted=granted_at, expires=new_expiry,
                                  need_to_know=topic, roles=role)
    _show(record, as_json)


@app.command()
def suspend(data: DataOption, official_id: str, reason: Reason) -> None:
    """Suspend an official: their tokens stop working."""
    with opened(data) as node, clean_errors():
        officials.suspend(node, acting(node), official_id, reason=reason)
    out.print(f"{official_id} suspended")


@app.command()
def reinstate(data: DataOption, official_id: str, reason: Reason) -> None:
    """Reinstate a suspended official (tokens must be issued again)."""
    with opened(data) as node, clean_errors():
        officials.reinstate(node, acting(node), official_id, reason=reason)
    out.print(f"{official_id} reinstated")


@app.command()
def revoke(data: DataOption, official_id: str, reason: Reason) -> None:
    """Revoke an official for good."""
    with opened(data) as node, clean_errors():
        officials.revoke(node, acting(node), official_id, reason=reason)
    out.print(f"{official_id} revoked")


@app.command("list")
def list_(data: DataOption, status: Annotated[str | None, typer.Option()] = None, as_json: JsonOption = False) -> None:
    """List the register."""
    with opened(data) as node, clean_errors():
        wanted = OfficialStatus(status) if status else None
        records = officials.list_officials(node, acting(node), wanted)
    if as_json:
        print_json([_as_json(r) for r in records])
        return
    table = Table("id", "name", "clearance", "expires", "roles", "status")
    for r in records:
        o = r.official
        table.add_row(o.id, o.name, str(o.clearance), format_instant(o.clearance_expires) if o.clearance_expires
                      else "-", ", ".join(sorted(x.value for x in o.roles)), o.status.value)
    out.print(table)


@app.command()
def show(data: DataOption, official_id: str, as_json: JsonOption = False) -> None:
    """Show one official and the history of changes to their record."""
    with opened(data) as node, clean_errors():
        actor = acting(node)
        record = officials.get(node, actor, official_id)
        changes = officials.history(node, actor, official_id)
    if as_json:
        print_json({**_as_json(record), "changes": [
            {"at": format_instant(c.at), "by": c.actor_id, "action": c.action, "reason": c.reason} for c in changes]})
        return
    _show(record, False)
    for c in changes:
        out.print(f"  {format_instant(c.at)} {c.action} by {c.actor_id}: {c.reason}", highlight=False)


@app.command()
def token(data: DataOption, official_id: str, reason: Reason) -> None:
    """Issue a personal API token; it is printed once and only its hash is kept."""
    with opened(data) as node, clean_errors():
        issued = officials.issue_token(node, acting(node), official_id, reason=reason)
    sys.stdout.write(issued.token + "\n")
