"""`gsomia audit ...`: verify the hash chain and checkpoints, export it, sign a checkpoint, show the tail."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import cbor2
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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
    parse_time,
    print_json,
)
from gsomia.services import audit, audit_anchors, signing
from gsomia.services.audit_chain import VerifyReport
from gsomia.services.context import Node
from gsomia.services.runtime import key_passphrase

app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)

def _report(report: VerifyReport, as_json: bool) -> None:
    if as_json:
        print_json({"ok": report.ok, "entries": report.entries, "first_seq": report.first_seq,
                    "last_seq": report.last_seq, "head_hash": report.head_hash, "checkpoints": report.checkpoints,
                    "signatures_checked": report.signatures_checked,
                    "problem": None if report.ok else {"seq": report.problem.seq, "what": report.problem.what}
                    if report.problem else None})
    elif report.problem is None:
        out.print(f"[green]ok[/]: {report.entries} entries (seq {report.first_seq}..{report.last_seq}), "
                  f"{report.checkpoints} checkpoints"
                  + ("" if report.signatures_checked else " [yellow](signatures NOT checked: no public key)[/]"),
                  highlight=False)
    else:
        out.print(f"[bold red]BAD[/] at seq {report.problem.seq}: {report.problem.what}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=True)


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
    with (opened_node(data) if partners or anchors else opened(data)) as node, clean_errors():
        actor = acting(node)
        key_bytes = key_bytes or signing.node_public_key(node.settings.effective_keys_dir)
        check = signing.signature_check(key_bytes) if key_bytes else None
        anchored = _anchored(node, partners, anchors or [])
        with _progress() as bar:
            task = bar.add_task("verify", total=audit.entry_count(node))
            report = audit.verify_store(node, actor, check_signature=check, anchored=anchored,
                                        on_progress=lambda n: bar.update(task, completed=n))
    _report(report, as_json)


def _anchored(node: Node, partners: bool, files: list[Path]) -> list[audit_anchors.Anchored]:
    """The anchors partners hold of this trail: fetched from them (--partners), or from their exports."""
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
                err.print(f"[yellow]warning:[/] {answer}; its anchors are not checked", highlight=False)
                continue
            found.append(audit_anchors.anchored_hashes(node, answer, party))
    for each in found:
        err.print(f"{each.by}: {len(each.hashes)} entry hashes from {each.records} anchors"
                  + (f", {each.rejected} not ours and ignored" if each.rejected else ""), highlight=False)
    return found


@app.command()
def anchors(
    data: DataOption,
    of: Annotated[str, typer.Option("--of", help="The partner whose anchors to export, e.g. KOR.")],
    output: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
) -> None:
    """Export the audit anchors a partner sent this node (a CBOR array of its signed records), for it to
    verify its own trail against (`gsomia audit verify --anchors FILE`)."""
    with opened(data) as node, clean_errors():
        records = audit_anchors.export_held(node, acting(node), of.strip().upper())
    encoded = cbor2.dumps(records)
    if output is None:
        sys.stdout.buffer.write(encoded)
    else:
        output.write_bytes(encoded)
    err.print(f"{len(records)} anchors of {of.upper()}", highlight=False)


@app.command()
def export(
    data: DataOption,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time; default: everything.")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
) -> None:
    """Write entries (from --since) and all checkpoints as JSON Lines for a partner or inspector."""
    since_at = parse_time(since, "--since")
    with opened(data) as node, clean_errors():
        actor = acting(node)
        if output is None:
            summary = audit.export(node, actor, sys.stdout, since=since_at)
        else:
            with output.open("w", encoding="utf-8") as stream:
                summary = audit.export(node, actor, stream, since=since_at)
    err.print(f"exported {summary.entries} entries and {summary.checkpoints} checkpoints", highlight=False)


@app.command()
def checkpoint(data: DataOption) -> None:
    """Sign the current head (count, hash, time) with the node's key."""
    with opened(data) as node, clean_errors():
        made = audit.checkpoint(node, acting(node), signing.node_signer(node.settings.effective_keys_dir))
    out.print(f"checkpoint: {made.count} entries, head {made.head_hash}, signed by {made.key_id}", highlight=False)


@app.command()
def tail(data: DataOption, count: Annotated[int, typer.Option("-n", min=1)] = 20, as_json: JsonOption = False) -> None:
    """The newest entries."""
    with opened(data) as node, clean_errors():
        entries = audit.tail(node, acting(node), count)
    if as_json:
        print_json([{"seq": e.seq, "at": e.at, "actor": e.actor, "via": e.via, "action": e.action,
                     "subject": e.subject, "decision": e.decision, "rules": list(e.rules),
                     "reasons": list(e.reasons), "hash": e.entry_hash} for e in entries])
        return
    for e in entries:
        out.print(f"{e.seq:>8} {e.at} {e.actor:<16} {e.action:<20} {e.subject or '-':<24} "
                  f"{e.decision or '-':<5} {','.join(e.rules)} {'; '.join(e.reasons)[:80]}", highlight=False)
