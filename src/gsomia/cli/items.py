"""`gsomia items ...`: the item registry (R6.f): inventory, one item, its custody and distribution;
and handling as the policy allows: originate, read, copy, destroy (signed certificate), reclassify.

Exit codes: 0 done, 1 the node is unavailable, 2 bad input, 3 refused (the decision's rules and
reasons are printed). Content goes in through --file or standard input and out through --out or
standard output; it is never echoed, logged or put in an error message.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gsomia.cli.node import (
    DataOption,
    JsonOption,
    acting,
    clean_errors,
    err,
    fail,
    opened,
    opened_node,
    out,
    print_fields,
    print_json,
)
from gsomia.domain.labels import Label
from gsomia.domain.schemes import Schemes
from gsomia.domain.timeutil import format_instant
from gsomia.services import handling, items

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
        found = items.list_items(node, acting(node), state=state, limit=limit)
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
        item = items.get_item(node, acting(node), item_id)
    print_fields(_as_json(item), as_json)


@app.command()
def history(data: DataOption, item_id: str, as_json: JsonOption = False) -> None:
    """Custody and distribution history: originated/received, released, receipts, copies, destruction."""
    with opened(data) as node, clean_errors():
        events = items.item_history(node, acting(node), item_id)
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


def _parties(schemes: Schemes, values: list[str] | None) -> frozenset[str]:
    return frozenset(schemes.require_party(p.strip().upper()) for v in values or () for p in v.split(",") if p.strip())


def _words(values: list[str] | None) -> frozenset[str]:
    return frozenset(t.strip() for v in values or () for t in v.split(",") if t.strip())


def _content(file: Path | None) -> bytes:
    if file is not None:
        try:
            return file.read_bytes()
        except OSError as bad:
            fail(f"{file}: {bad.strerror}")
    if sys.stdin.isatty():
        fail("give the content with --file F or on standard input")
    return sys.stdin.buffer.read()


def _write_private(path: Path, data: bytes) -> None:
    """Written 0600 from creation on: content and certificates are nobody else's business."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    except OSError as bad:
        fail(f"{path}: {bad.strerror}")


@app.command()
def originate(
    data: DataOption,
    classification: Annotated[str, typer.Option(help="This party's marking, e.g. KOR:II.")],
    purpose: Annotated[str, typer.Option(help="What the item is provided for (R6.b).")],
    topics: Annotated[list[str], typer.Option("--topics", "--topic", help="Topics, comma-separated or repeated.")],
    rel: Annotated[list[str] | None, typer.Option("--rel", help="Releasable to, e.g. USA,JPN.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="The content (default: standard input).")] = None,
    location: Annotated[str, typer.Option(help="Where the item is kept (R6.f).")] = "registry",
    rights_note: Annotated[str, typer.Option(help="Intellectual-property note (R6.d).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Register a new item of this party; its content is sealed at rest before it is stored."""
    content = _content(file)
    if not content:
        fail("the content is empty")
    with opened_node(data) as node, clean_errors():
        schemes = node.schemes
        label = Label(originator=node.party, policy=node.party, classification=schemes.parse(classification),
                      releasable_to=_parties(schemes, rel) | {node.party}, topics=_words(topics), purpose=purpose,
                      created_at=node.clock(), rights_note=rights_note)
        item = handling.originate(node, acting(node), label, content, location=location)
        banner = label.banner(schemes)
    if as_json:
        print_json({**_as_json(item), "banner": banner})
        return
    out.print(f"{item.id} {banner} ({item.classification}) registered at {item.location}", highlight=False)


@app.command()
def read(
    data: DataOption, item_id: str,
    output: Annotated[Path | None, typer.Option("--out", help="Write the content here (default: stdout).")] = None,
    purpose: Annotated[str | None, typer.Option(help="The purpose of this use (R6.b).")] = None,
) -> None:
    """The item's content, if the policy lets you read it; the read is audited either way."""
    with opened_node(data) as node, clean_errors():
        item, content = handling.read(node, acting(node), item_id, purpose=purpose)
        marking = Label.from_canonical(item.label_bytes, node.schemes)
        banner = marking.banner(node.schemes)
        if marking.dual_marked:
            banner += " | " + marking.dual_marking(node.schemes)
    err.print(f"{item.id}: {banner}", highlight=False)  # the marking goes with the content (R4.4)
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    else:
        _write_private(output, content)


@app.command()
def copy(
    data: DataOption, item_id: str, reason: Annotated[str, typer.Option(help="Why the copy is made.")],
    translate: Annotated[bool, typer.Option("--translate", help="A translation rather than a copy.")] = False,
    location: Annotated[str | None, typer.Option(help="Where the copy is kept.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Reproduce or translate an item (Art. 16): a new item with the same markings (R4.5)."""
    with opened_node(data) as node, clean_errors():
        made = handling.copy(node, acting(node), item_id, translate=translate, reason=reason, location=location)
    if as_json:
        print_json(_as_json(made))
        return
    out.print(f"{made.id}: {made.origin} of {item_id}, {made.classification}, at {made.location}", highlight=False)


@app.command()
def destroy(
    data: DataOption, item_id: str,
    method: Annotated[str, typer.Option(help="How: e.g. 'crypto-erase', 'cross-cut shredding'.")],
    reason: Annotated[str, typer.Option(help="Why it is no longer needed (R6.h).")],
    certificate_out: Annotated[Path | None, typer.Option(
        "--certificate-out", help="Write the signed certificate here (default: base64 on stdout).")] = None,
) -> None:
    """Destroy an item (Art. 13): erase its content; a destruction certificate signed by this node results."""
    with opened_node(data) as node, clean_errors():
        certificate = handling.destroy(node, acting(node), item_id, method=method, reason=reason)
    err.print(f"{item_id} destroyed; certificate {handling.certificate_digest(certificate)}"
              " (check it with `gsomia verify FILE --key PUBLIC.json`)", highlight=False)
    if certificate_out is None:
        sys.stdout.write(base64.b64encode(certificate).decode() + "\n")
    else:
        _write_private(certificate_out, certificate)


@app.command()
def reclassify(
    data: DataOption, item_id: str,
    classification: Annotated[str, typer.Option(help="The new marking, e.g. KOR:III.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Change the classification of one of this party's items (R6.g); its copies here follow."""
    with opened_node(data) as node, clean_errors():
        new = node.schemes.parse(classification)
        item = handling.reclassify(node, acting(node), item_id, new, reason=reason)
    if as_json:
        print_json(_as_json(item))
        return
    out.print(f"{item.id} is now {item.classification}", highlight=False)
