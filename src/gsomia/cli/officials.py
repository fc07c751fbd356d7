"""`gsomia officials ...`: the register of cleared officials (R6.e)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gsomia.cli.options import DataOption, JsonOption, Reason, WideOption, group

if TYPE_CHECKING:
    from gsomia.services.officials import OfficialRecord

app = group("The register of cleared officials (R6.e).")

Topics = Annotated[list[str] | None, typer.Option("--topic", help="Need-to-know topic (repeat).")]
Roles = Annotated[list[str] | None, typer.Option("--role", help="reader, releasing_official, security_officer.")]
TokenOut = Annotated[Path | None, typer.Option("--token-out", help="Also issue a personal token, written to this "
                                                                  "file (0600), never shown.")]


def official_json(r: OfficialRecord) -> dict[str, object]:
    from gsomia.domain.timeutil import format_instant

    o = r.official
    return {"id": o.id, "name": o.name, "party": o.party, "clearance": str(o.clearance),
            "granted": format_instant(r.clearance_granted),
            "expires": format_instant(o.clearance_expires) if o.clearance_expires else None,
            "need_to_know": sorted(o.need_to_know), "roles": sorted(x.value for x in o.roles),
            "status": o.status.value, "updated_at": format_instant(r.updated_at)}


def _show(r: OfficialRecord, as_json: bool) -> None:
    from gsomia.cli.output import print_fields

    print_fields(official_json(r), as_json)


@app.command()
def appoint(
    data: DataOption, name: Annotated[str, typer.Option()], clearance: Annotated[str, typer.Option()],
    reason: Reason, expires: Annotated[str | None, typer.Option(help="ISO 8601")] = None,
    granted: Annotated[str | None, typer.Option(help="ISO 8601 (default: now)")] = None,
    topic: Topics = None, role: Roles = None, token_out: TokenOut = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the new official's id.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Appoint an official (clearance of this node's party, e.g. KOR:II), with need-to-know topics and roles."""
    from gsomia.cli.node import parse_time, session
    from gsomia.cli.output import write_private
    from gsomia.services import officials

    expires_at, granted_at = parse_time(expires, "--expires"), parse_time(granted, "--granted")
    with session(data) as (node, actor):
        record = officials.appoint(
            node, actor, name=name, clearance=clearance, granted=granted_at or node.clock(),
            expires=expires_at, need_to_know=topic or [], roles=role or ["reader"], reason=reason)
        issued = officials.issue_token(node, actor, record.official.id, reason=f"appointed: {reason}") \
            if token_out is not None else None
    if issued is not None and token_out is not None:
        write_private(token_out, (issued.token + "\n").encode())
    if quiet:
        sys.stdout.write(record.official.id + "\n")
    else:
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
    from gsomia.cli.node import parse_time, session
    from gsomia.services import officials

    new_expiry = officials.KEEP if expires is None else None if expires == "never" else parse_time(expires, "--expires")
    granted_at = parse_time(granted, "--granted")
    with session(data) as (node, actor):
        record = officials.update(node, actor, official_id, reason=reason, name=name, clearance=clearance,
                                  granted=granted_at, expires=new_expiry, need_to_know=topic, roles=role)
    _show(record, as_json)


def _change(data: Path, official_id: str, reason: str, as_json: bool, change: str) -> None:
    from gsomia.cli.node import session
    from gsomia.cli.output import out
    from gsomia.services import officials

    act = {"suspend": officials.suspend, "reinstate": officials.reinstate, "revoke": officials.revoke}[change]
    with session(data) as (node, actor):
        record = act(node, actor, official_id, reason=reason)
    if as_json:
        _show(record, True)
    else:
        out().print(f"{official_id} {record.official.status.value}")


@app.command()
def suspend(data: DataOption, official_id: str, reason: Reason, as_json: JsonOption = False) -> None:
    """Suspend an official: their tokens stop working."""
    _change(data, official_id, reason, as_json, "suspend")


@app.command()
def reinstate(data: DataOption, official_id: str, reason: Reason, as_json: JsonOption = False) -> None:
    """Reinstate a suspended official (tokens must be issued again)."""
    _change(data, official_id, reason, as_json, "reinstate")


@app.command()
def revoke(data: DataOption, official_id: str, reason: Reason, as_json: JsonOption = False) -> None:
    """Revoke an official for good."""
    _change(data, official_id, reason, as_json, "revoke")


@app.command("list")
def list_(data: DataOption, status: Annotated[str | None, typer.Option(help="active, suspended or revoked")] = None,
          as_json: JsonOption = False, wide: WideOption = False) -> None:
    """List the register."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json, print_table
    from gsomia.domain.officials import OfficialStatus
    from gsomia.services import officials

    with session(data) as (node, actor):
        records = officials.list_officials(node, actor, OfficialStatus(status) if status else None)
    if as_json:
        print_json([official_json(r) for r in records])
        return
    print_table(("id", "name", "clearance", "expires", "topics", "roles", "status"),
                [(o.id, o.name, o.clearance, o.clearance_expires, ", ".join(sorted(o.need_to_know)),
                  ", ".join(sorted(x.value for x in o.roles)), o.status.value)
                 for o in (r.official for r in records)], wide=wide, empty="nobody")


@app.command()
def show(data: DataOption, official_id: str, as_json: JsonOption = False) -> None:
    """Show one official and the history of changes to their record."""
    from gsomia.cli.node import session
    from gsomia.cli.output import out, print_json
    from gsomia.domain.timeutil import format_instant
    from gsomia.services import officials

    with session(data) as (node, actor):
        record = officials.get(node, actor, official_id)
        changes = officials.history(node, actor, official_id)
    if as_json:
        print_json({**official_json(record), "changes": [
            {"at": format_instant(c.at), "by": c.actor_id, "action": c.action, "reason": c.reason} for c in changes]})
        return
    _show(record, False)
    for c in changes:
        out().print(f"  {format_instant(c.at)} {c.action} by {c.actor_id}: {c.reason}", markup=False)


@app.command()
def access(data: DataOption, official_id: str,
           refused: Annotated[bool, typer.Option("--refused", help="Only the items refused to them.")] = False,
           limit: Annotated[int, typer.Option(help="Look at the oldest LIMIT items held (at most 5000).")] = 1000,
           as_json: JsonOption = False, wide: WideOption = False) -> None:
    """What this official may read here, item by item, with the rules and reasons of each refusal: the decision a
    read would get now (a review of the register, audited; no content is opened)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import out, print_json, print_table
    from gsomia.domain.timeutil import format_instant
    from gsomia.services import access_review

    with session(data) as (node, actor):
        done = access_review.review(node, actor, official_id, limit=limit)
    shown = [i for i in done.items if not (refused and i.allowed)]
    if as_json:
        print_json({"official_id": done.official_id, "at": format_instant(done.at), "complete": done.complete,
                    "readable": done.readable, "items": [
                        {"item_id": i.item_id, "originator": i.originator, "classification": i.classification,
                         "state": i.state, "allowed": i.allowed, "rules": list(i.rules), "reasons": list(i.reasons)}
                        for i in shown]})
        return
    print_table(("item", "originator", "classification", "state", "read", "rules", "why not"),
                [(i.item_id, i.originator, i.classification, i.state, "allowed" if i.allowed else "REFUSED",
                  ", ".join(i.rules), "" if i.allowed else "; ".join(r.rstrip(".") for r in i.reasons)) for i in shown],
                ids=("item",), wide=wide, empty="no item held")
    more = "" if done.complete else f" (the oldest {limit} looked at: --limit for more)"
    out().print(f"{official_id} may read {done.readable} of {len(done.items)} items held{more}", markup=False)


@app.command()
def token(data: DataOption, official_id: str, reason: Reason,
          output: Annotated[Path | None, typer.Option("--out", help="Write it to this file (0600) instead.")] = None,
          as_json: JsonOption = False) -> None:
    """Issue a personal API token; it is printed once (or written to --out) and only its hash is kept."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json, write_private
    from gsomia.services import officials

    with session(data) as (node, actor):
        issued = officials.issue_token(node, actor, official_id, reason=reason)
    if output is not None:
        write_private(output, (issued.token + "\n").encode())
    elif as_json:
        print_json({"official_id": issued.official_id, "token": issued.token})
    else:
        sys.stdout.write(issued.token + "\n")
