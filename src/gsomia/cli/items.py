"""`gsomia items ...`: the item registry (R6.f): inventory, one item, its custody and distribution; and
handling as the policy allows: originate, read, copy, destroy (signed certificate), reclassify. The
cross-border actions on an item (release, disclose, recall, compromise) are in `exchange.py`.

Content goes in through --file or standard input and out through --out or standard output; it is never
echoed, logged or put in an error message. Exit codes: options.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gsomia.cli.options import (
    Classification,
    DataOption,
    JsonOption,
    Purpose,
    Rel,
    Topics,
    WideOption,
    group,
    words,
)

if TYPE_CHECKING:
    from gsomia.services.items import ItemRecord

app = group("The item registry (R6.f), handling, and the cross-border actions on an item.")

QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the new id (for scripts).")]


def item_json(i: ItemRecord) -> dict[str, object]:
    from gsomia.domain.timeutil import format_instant

    return {"id": i.id, "origin": i.origin, "originator": i.originator, "classification": i.classification,
            "national_marking": i.national_marking, "releasable_to": list(i.releasable_to),
            "topics": list(i.topics), "purpose": i.purpose, "state": i.state, "custodian": i.custodian,
            "location": i.location, "received_from": i.received_from, "origin_ref": i.origin_ref,
            "derived_from": i.derived_from, "created_at": format_instant(i.created_at),
            "updated_at": format_instant(i.updated_at)}


@app.command("list")
def list_(data: DataOption, state: Annotated[str | None, typer.Option(help="held, released or destroyed")] = None,
          limit: Annotated[int, typer.Option(min=1)] = 1000, as_json: JsonOption = False,
          wide: WideOption = False) -> None:
    """The inventory."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json, print_table
    from gsomia.services import items

    with session(data) as (node, actor):
        found = items.list_items(node, actor, state=state, limit=limit)
    if as_json:
        print_json([item_json(i) for i in found])
        return
    print_table(("id", "classification", "originator", "state", "custodian", "location", "origin ref"),
                [(i.id, i.classification, i.originator, i.state, i.custodian, i.location, i.origin_ref)
                 for i in found], ids=("id", "origin ref"), wide=wide, empty="no items")


@app.command()
def show(data: DataOption, item_id: str, as_json: JsonOption = False) -> None:
    """One item's identification, label fields, state and custody."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_fields
    from gsomia.services import items

    with session(data) as (node, actor):
        item = items.get_item(node, actor, item_id)
    print_fields(item_json(item), as_json)


@app.command()
def history(data: DataOption, item_id: str, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """Custody and distribution history: originated/received, released, receipts, copies, destruction."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json, print_table
    from gsomia.domain.timeutil import format_instant
    from gsomia.services import items

    with session(data) as (node, actor):
        events = items.item_history(node, actor, item_id)
    rows = [{"at": format_instant(e.at), "kind": e.kind, "by": e.actor_id, "counterparty": e.counterparty,
             "detail": e.detail, "receipt": e.receipt is not None, "audit_seq": e.audit_seq} for e in events]
    if as_json:
        print_json(rows)
        return
    print_table(("at", "kind", "by", "counterparty", "detail", "audit seq"),
                [(r["at"], r["kind"], r["by"], r["counterparty"], r["detail"], r["audit_seq"]) for r in rows],
                ids=("at", "by"), wide=wide, empty="no events")


def _content(file: Path | None) -> bytes:
    from gsomia.cli.output import fail

    if file is not None:
        try:
            return file.read_bytes()
        except OSError as bad:
            fail(f"{file}: {bad.strerror}")
    if sys.stdin.isatty():
        fail("give the content with --file FILE or on standard input")
    return sys.stdin.buffer.read()


@app.command()
def originate(
    data: DataOption, classification: Classification, purpose: Purpose, topics: Topics, rel: Rel = None,
    file: Annotated[Path | None, typer.Option("--file", help="The content (default: standard input).")] = None,
    location: Annotated[str, typer.Option(help="Where the item is kept (R6.f).")] = "registry",
    rights_note: Annotated[str, typer.Option(help="Intellectual-property note (R6.d).")] = "",
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Register a new item of this party from --file (or standard input); sealed at rest before it is stored."""
    from gsomia.cli.node import session
    from gsomia.cli.output import fail, out, print_json
    from gsomia.domain.labels import Label
    from gsomia.services import handling

    content = _content(file)
    if not content:
        fail("the content is empty")
    with session(data, keys=True) as (node, actor):
        schemes = node.schemes
        parties = frozenset(schemes.require_party(p.upper()) for p in words(rel))
        label = Label(originator=node.party, policy=node.party, classification=schemes.parse(classification),
                      releasable_to=parties | {node.party}, topics=frozenset(words(topics)), purpose=purpose,
                      created_at=node.clock(), rights_note=rights_note)
        item = handling.originate(node, actor, label, content, location=location)
        banner = label.banner(schemes)
    if as_json:
        print_json({**item_json(item), "banner": banner})
    elif quiet:
        sys.stdout.write(item.id + "\n")
    else:
        out().print(f"{item.id} {banner} ({item.classification}) registered at {item.location}")


@app.command()
def read(
    data: DataOption, item_id: str,
    output: Annotated[Path | None, typer.Option("--out", help="Write the content here (default: stdout).")] = None,
    purpose: Annotated[str | None, typer.Option(help="The purpose of this use (R6.b).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The item's content, if the policy lets you read it; the read is audited either way. With --json, its
    marking, and the content in base64 unless it went to --out."""
    import base64

    from gsomia.cli.node import session
    from gsomia.cli.output import err, print_json, write_private
    from gsomia.domain.labels import Label
    from gsomia.services import handling

    with session(data, keys=True) as (node, actor):
        item, content = handling.read(node, actor, item_id, purpose=purpose)
        marking = Label.from_canonical(item.label_bytes, node.schemes)
        banner = marking.banner(node.schemes)
        if marking.dual_marked:
            banner += " | " + marking.dual_marking(node.schemes)
    if output is not None:
        write_private(output, content)
    if as_json:  # the content in the JSON only when it was not written to --out
        print_json({"id": item.id, "banner": banner, "out": str(output) if output is not None else None,
                    "content_base64": None if output is not None else base64.b64encode(content).decode()})
        return
    err().print(f"{item.id}: {banner}")  # the marking goes with the content (R4.4)
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()


@app.command()
def copy(
    data: DataOption, item_id: str, reason: Annotated[str, typer.Option(help="Why the copy is made.")],
    translate: Annotated[bool, typer.Option("--translate", help="A translation rather than a copy.")] = False,
    location: Annotated[str | None, typer.Option(help="Where the copy is kept.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Reproduce or translate an item (Art. 16): a new item with the same markings (R4.5)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import out, print_json
    from gsomia.services import handling

    with session(data, keys=True) as (node, actor):
        made = handling.copy(node, actor, item_id, translate=translate, reason=reason, location=location)
    if as_json:
        print_json(item_json(made))
        return
    out().print(f"{made.id}: {made.origin} of {item_id}, {made.classification}, at {made.location}")


@app.command()
def destroy(
    data: DataOption, item_id: str,
    method: Annotated[str, typer.Option(help="How: e.g. 'crypto-erase', 'cross-cut shredding'.")],
    reason: Annotated[str, typer.Option(help="Why it is no longer needed (R6.h).")],
    certificate_out: Annotated[Path | None, typer.Option(
        "--certificate-out", help="Write the signed certificate here (default: base64 on stdout).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Destroy an item (Art. 13): erase its content; a destruction certificate signed by this node results."""
    import base64

    from gsomia.cli.node import session
    from gsomia.cli.output import err, print_json, write_private
    from gsomia.services import handling

    with session(data, keys=True) as (node, actor):
        certificate = handling.destroy(node, actor, item_id, method=method, reason=reason)
    digest = handling.certificate_digest(certificate)
    if certificate_out is not None:
        write_private(certificate_out, certificate)
    if as_json:
        print_json({"item_id": item_id, "certificate_digest": digest, "certificate_base64":
                    None if certificate_out else base64.b64encode(certificate).decode()})
        return
    err().print(f"{item_id} destroyed; certificate {digest} (check it with `gsomia verify FILE --key PUBLIC.json`)")
    if certificate_out is None:
        sys.stdout.write(base64.b64encode(certificate).decode() + "\n")


@app.command()
def reclassify(
    data: DataOption, item_id: str,
    classification: Annotated[str, typer.Option(help="The new marking, e.g. KOR:III.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Change the classification of one of this party's items (R6.g); its copies here follow."""
    from gsomia.cli.node import session
    from gsomia.cli.output import out, print_json
    from gsomia.services import handling

    with session(data, keys=True) as (node, actor):
        item = handling.reclassify(node, actor, item_id, node.schemes.parse(classification), reason=reason)
    if as_json:
        print_json(item_json(item))
        return
    out().print(f"{item.id} is now {item.classification}")
