"""`gsomia audit ...`: verify the hash chain and checkpoints, page through it, export it, sign a checkpoint
(and send it to the partners), show the tail."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gsomia.cli.options import DataOption, JsonOption, group

if TYPE_CHECKING:
    from rich.progress import Progress

    from gsomia.services.audit import AuditEntry
    from gsomia.services.audit_anchors import Anchored
    from gsomia.services.audit_chain import VerifyReport
    from gsomia.services.context import Node

app = group("The hash-chained audit log.")


def _report(report: VerifyReport, as_json: bool) -> None:
    from gsomia.cli.output import out, print_json

    if as_json:
        print_json({"ok": report.ok, "entries": report.entries, "first_seq": report.first_seq,
                    "last_seq": report.last_seq, "head_hash": report.head_hash, "checkpoints": report.checkpoints,
                    "signatures_checked": report.signatures_checked,
                    "problem": None if report.ok else {"seq": report.problem.seq, "what": report.problem.what}
                    if report.problem else None})
    elif report.problem is None:
        out().print(f"[green]ok[/]: {report.entries} entries (seq {report.first_seq}..{report.last_seq}), "
                    f"{report.checkpoints} checkpoints"
                    + ("" if report.signatures_checked else " [yellow](signatures NOT checked: no public key)[/]"))
    else:
        out().print(f"[bold red]BAD[/] at seq {report.problem.seq}: {report.problem.what}")
    if not report.ok:
        raise typer.Exit(1)


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from gsomia.cli.output import err

    return Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err(), transient=True)


@app.command()
def verify(
    data: Annotated[Path | None, typer.Option("--data", envvar="GSOMIA_DATA")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="An export (JSON Lines) to check.")] = None,
    public_key: Annotated[Path | None, typer.Option(help="The signer's Ed25519 public key.")] = None,
    partners: Annotated[bool, typer.Option("--partners", help=(
        "Also check against the anchors every partner holds of this trail (fetched over mutual TLS;"
        " needs the key passphrase)."))] = False,
    anchors: Annotated[list[Path] | None, typer.Option(
        "--anchors", help="Also check against anchors a partner exported (`gsomia audit anchors --of PARTY`).",
    )] = None,
    as_json: JsonOption = False,
) -> None:
    """Walk the whole chain; report the first bad entry (seq and what is wrong). Exit 1 if any.

    With --partners or --anchors, each entry is also checked against the hash a partner holds of it, so a
    rewritten entry or entries cut off the end show even when this database was wholly in other hands."""
    from gsomia.cli.node import clean_errors, session
    from gsomia.cli.output import fail
    from gsomia.services import audit, signing

    if (data is None) == (file is None):
        fail("give exactly one of --data DIR or --file FILE.jsonl")
    key_bytes = public_key.read_bytes() if public_key and public_key.exists() else None
    if public_key and key_bytes is None:
        fail(f"{public_key} not found")
    if file is not None:
        if not file.exists():
            fail(f"{file} not found")
        with clean_errors(), file.open(encoding="utf-8") as lines, _progress() as bar:
            check = signing.signature_check(key_bytes) if key_bytes else None
            task = bar.add_task("verify", total=None)
            report = audit.verify_export(lines, check_signature=check,
                                         on_progress=lambda n: bar.update(task, completed=n))
        _report(report, as_json)
        return
    assert data is not None  # noqa: S101 - checked above
    with session(data, keys=bool(partners or anchors)) as (node, actor):
        key_bytes = key_bytes or signing.node_public_key(node.settings.effective_keys_dir)
        check = signing.signature_check(key_bytes) if key_bytes else None
        anchored = _anchored(node, partners, anchors or [])
        with _progress() as bar:
            task = bar.add_task("verify", total=audit.entry_count(node))
            report = audit.verify_store(node, actor, check_signature=check, anchored=anchored,
                                        on_progress=lambda n: bar.update(task, completed=n))
    _report(report, as_json)


def _anchored(node: Node, partners: bool, files: list[Path]) -> list[Anchored]:
    """The anchors partners hold of this trail: fetched from them (--partners), or from their exports."""
    import asyncio

    import cbor2

    from gsomia.cli.output import err, fail
    from gsomia.services import audit_anchors
    from gsomia.services.runtime import key_passphrase

    found = []
    for path in files:
        try:
            records = cbor2.loads(path.read_bytes())
        except (OSError, ValueError, cbor2.CBORDecodeError) as bad:
            fail(f"cannot read anchors from {path}: {bad}")
        if not isinstance(records, list) or not all(isinstance(r, bytes) for r in records):
            fail(f"{path} is not a CBOR array of signed records (`gsomia audit anchors --of PARTY --out FILE`)")
        found.append(audit_anchors.anchored_hashes(node, records, f"the anchors in {path.name}"))
    if partners:
        from gsomia.federation.anchors import fetch_anchors
        from gsomia.node import NodeTLS

        fetched = asyncio.run(fetch_anchors(node, NodeTLS.of(node, key_passphrase()).client))
        for party, answer in fetched.items():
            if isinstance(answer, str):
                err().print(f"[yellow]warning:[/] {answer}; its anchors are not checked")
                continue
            found.append(audit_anchors.anchored_hashes(node, answer, party))
    for each in found:
        err().print(f"{each.by}: {len(each.hashes)} entry hashes from {each.records} anchors"
                    + (f", {each.rejected} not ours and ignored" if each.rejected else ""))
    return found


@app.command()
def anchors(
    data: DataOption,
    of: Annotated[str, typer.Option("--of", help="The partner whose anchors to export, e.g. KOR.")],
    output: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Export the audit anchors a partner sent this node (a CBOR array of its signed records), for it to
    verify its own trail against (`gsomia audit verify --anchors FILE`). With --json, the records in hex
    (the file is CBOR either way)."""
    import sys

    import cbor2

    from gsomia.cli.node import session
    from gsomia.cli.output import err, print_json
    from gsomia.services import audit_anchors

    with session(data) as (node, actor):
        records = audit_anchors.export_held(node, actor, of.strip().upper())
    encoded = cbor2.dumps(records)
    if output is not None:
        output.write_bytes(encoded)
    if as_json:
        print_json({"of": of.strip().upper(), "count": len(records), "out": str(output) if output else None,
                    "anchors_hex": None if output else [r.hex() for r in records]})
        return
    if output is None:
        sys.stdout.buffer.write(encoded)
    err().print(f"{len(records)} anchors of {of.upper()}")


@app.command()
def export(
    data: DataOption,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time; default: everything.")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write entries (from --since) and all checkpoints as JSON Lines for a partner or inspector (the export
    is JSON Lines either way; --json prints its summary as JSON on stderr)."""
    import json
    import sys

    from gsomia.cli.node import parse_time, session
    from gsomia.cli.output import err
    from gsomia.services import audit

    since_at = parse_time(since, "--since")
    with session(data) as (node, actor):
        if output is None:
            summary = audit.export(node, actor, sys.stdout, since=since_at)
        else:
            with output.open("w", encoding="utf-8") as stream:
                summary = audit.export(node, actor, stream, since=since_at)
    if as_json:
        sys.stderr.write(json.dumps({"entries": summary.entries, "checkpoints": summary.checkpoints}) + "\n")
    else:
        err().print(f"exported {summary.entries} entries and {summary.checkpoints} checkpoints")


@app.command()
def checkpoint(data: DataOption, as_json: JsonOption = False) -> None:
    """Sign the current head (count, hash, time) with the node's key."""
    from gsomia.cli.node import session
    from gsomia.cli.output import out, print_json
    from gsomia.services import audit, signing

    with session(data) as (node, actor):
        made = audit.checkpoint(node, actor, signing.node_signer(node.settings.effective_keys_dir))
    if as_json:
        print_json({"count": made.count, "head_hash": made.head_hash, "at": made.at, "key_id": made.key_id})
        return
    out().print(f"checkpoint: {made.count} entries, head {made.head_hash}, signed by {made.key_id}")


@app.command()
def exchange(data: DataOption, as_json: JsonOption = False) -> None:
    """Sign the audit head and send it to every partner (mutual audit); a running `gsomia serve` delivers it."""
    from gsomia.cli.node import session
    from gsomia.cli.output import out, print_json
    from gsomia.services import exchange as exchange_use_cases

    with session(data, keys=True) as (node, actor):
        count = exchange_use_cases.exchange_checkpoint(node, actor)
        partners = sorted(node.partners.by_party)
    if as_json:
        print_json({"count": count, "sent_to": partners})
        return
    out().print(f"checkpoint of {count} entries queued for {', '.join(partners) or 'no partner'}")


def _entry_json(e: AuditEntry) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at, "actor": e.actor, "via": e.via, "action": e.action, "subject": e.subject,
            "decision": e.decision, "rules": list(e.rules), "reasons": list(e.reasons), "hash": e.entry_hash}


def _entry_lines(entries: list[AuditEntry]) -> None:
    from gsomia.cli.output import out

    console = out()
    for e in entries:
        console.print(f"{e.seq:>8} {e.at} {e.actor} {e.via} {e.action} {e.subject or '-'} {e.decision or '-'} "
                      f"{','.join(e.rules)} {'; '.join(e.reasons)}", markup=False)


@app.command()
def tail(data: DataOption, count: Annotated[int, typer.Option("-n", min=1)] = 20, as_json: JsonOption = False) -> None:
    """The newest entries, one a line: seq, time, actor, channel, action, subject, decision, rules, reasons."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json
    from gsomia.services import audit

    with session(data) as (node, actor):
        entries = audit.tail(node, actor, count)
    if as_json:
        print_json([_entry_json(e) for e in entries])
    else:
        _entry_lines(entries)


@app.command()
def entries(data: DataOption, since: Annotated[int, typer.Option(min=0, help="After this seq.")] = 0,
            limit: Annotated[int, typer.Option(min=1, max=1000)] = 100, as_json: JsonOption = False) -> None:
    """A page of entries after seq --since, oldest first; the next page's --since is printed last."""
    from gsomia.cli.node import session
    from gsomia.cli.output import err, print_json
    from gsomia.services import audit

    with session(data) as (node, actor):
        found, cursor = audit.entries_after(node, actor, since, limit)
    if as_json:
        print_json({"entries": [_entry_json(e) for e in found], "next": cursor})
        return
    _entry_lines(found)
    err().print(f"next page: --since {cursor}" if cursor is not None else "(end of the trail)")
