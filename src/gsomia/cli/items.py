"""`gsomia items ...`: the item registry (R6.f): inventory, one item, its custody and distribution."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gsomia.cli.node import DataOption, JsonOption, acting, clean_errors, opened, out, print_json
from gsomia.domain.timeutil import format_instant
from gsomia.services import items

app = typer.Typer(help="The item registry (R6.f).", no_args_is_help=True)


def _as_json(i: items.ItemRecord) -> dict[str, object]:
    return {"id": i.id, "origin": i.origin, "originator": i.originator, "classification": i.classification,
            "national_marking": i.national_marking, "releasable_to": list(i.releasable_to),
            "topics": list(i.topics), "purpose": i.purpose, "state": i.state, "custodian": i.custodian,
            "location": i.location, "received_from": i.received_from, "origin_ref": i.origin_ref,
            "derived_from": i.derived_from, "created_at": format_instant(i.created_at),
            "updated_at": format_instant(i.updated_at)}


@app.command("list")
def list_(data: DataOption, state: Annotated[str | None, typer.Option()] = None,
          limit: Annotated[int, typer.Option(min=1)] = 1000, as_json: JsonOption = False) -> None:
    """The inventory."""
    with opened(data) as node, clean_errors():
        found = items.list_items(node.ctx, acting(node), state=state, limit=limit)
    if as_json:
        print_json([_as_json(i) for i in found])
        return
    table = Table("id", "classification", "originator", "state", "custodian", "location")
    for i in found:
        table.add_row(i.id, i.classification, i.originator, i.state, i.custodian, i.location)
    out.print(table)


@app.command()
def show(data: DataOption, item_id: str, as_json: JsonOption = False) -> None:
    """One item's identification, label fields, state and custody."""
    with opened(data) as node, clean_errors():
        item = items.get_item(node.ctx, acting(node), item_id)
    if as_json:
        print_json(_as_json(item))
        return
    for key, value in _as_json(item).items():
        out.print(f"[bold]{key}[/]: {value}", highlight=False)


@app.command()
def history(data: DataOption, item_id: str, as_json: JsonOption = False) -> None:
    """Custody and distribution history: originated/received, released, receipts, copies, destruction."""
    with opened(data) as node, clean_errors():
        events = items.item_history(node.ctx, acting(node), item_id)
    rows = [{"at": format_instant(e.at), "kind": e.kind, "by": e.actor_id, "counterparty": e.counterparty,
             "detail": e.detail, "receipt": e.receipt is not None, "audit_seq": e.audit_seq} for e in events]
    if as_json:
        print_json(rows)
        return
    table = Table("at", "kind", "by", "counterparty", "detail", "audit seq")
    for r in rows:
        table.add_row(str(r["at"]), str(r["kind"]), str(r["by"]), str(r["counterparty"] or "-"),
                      str(r["detail"]), str(r["audit_seq"]))
    out.print(table)
