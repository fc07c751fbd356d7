"""Audit use cases: append (inside the caller's unit of work), checkpoint, verify, export, tail."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import func, select

from gsomia.domain.officials import Role
from gsomia.services import access
from gsomia.services.audit_anchors import Anchored
from gsomia.services.audit_chain import (
    CheckpointSigner,
    Problem,
    SignatureCheck,
    VerifyReport,
    audit_time,
    checkpoint_payload,
    verify_chain,
)
from gsomia.services.audit_log import AuditedDecision, append, append_one, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import InvalidInput
from gsomia.storage.records import AuditEntry as AuditEntry  # what the audit use cases give back
from gsomia.storage.records import Checkpoint
from gsomia.storage.repositories import RawEntry, dump_list, entry_from_raw, stream_raw_entries
from gsomia.storage.tables import audit_entries

EXPORT_FORMAT = "gsomia-audit-export/1"


def record_decision(node: Node, actor: Actor, action: str, subject: str | None,
                    decision: AuditedDecision) -> AuditEntry:
    """One decision, allowed or refused, in its own transaction (for the API and federation layers)."""
    with node.store.unit_of_work() as uow:
        return append_one(uow, node.clock(), draft(actor, action, subject, decision))


def checkpoint(node: Node, actor: Actor, signer: CheckpointSigner) -> Checkpoint:
    """Sign the current head (count, hash, time) so that later deletion of entries shows."""
    access.require(node, actor, "audit.checkpoint", None, Role.SECURITY_OFFICER, Role.NODE)
    with node.store.unit_of_work() as uow:
        count, head = uow.audit.lock_head()
        at = audit_time(node.clock())
        made = Checkpoint(count, head, at, signer.key_id,
                          signer.sign(checkpoint_payload(count, head, at, signer.key_id)))
        uow.audit.add_checkpoint(made)
    return made


def tail(node: Node, actor: Actor, count: int = 20) -> list[AuditEntry]:
    access.require(node, actor, "audit.tail", None, Role.SECURITY_OFFICER)
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.audit.tail(count)


def verify_store(node: Node, actor: Actor, *, check_signature: SignatureCheck | None,
                 on_progress: Callable[[int], None] | None = None, anchored: Sequence[Anchored] = ()) -> VerifyReport:
    """Walk the whole chain from seq 1, check checkpoints, compare with the head row, and with the entry
    hashes partners hold (`anchored`, services/audit_anchors.py) when they are given."""
    access.require(node, actor, "audit.verify", None, Role.SECURITY_OFFICER)
    with node.store.unit_of_work(readonly=True) as uow:
        checkpoints = uow.audit.checkpoints()
        head_seq, head_hash = uow.audit.head()
    held = {seq: h for a in anchored for seq, h in a.hashes.items()}
    held_by = " and ".join(sorted({a.by for a in anchored})) or "a partner"
    with closing(stream_raw_entries(node.store.engine, to_seq=max(head_seq, max(held, default=0)))) as batches:
        report = verify_chain(batches, checkpoints, check_signature=check_signature, on_progress=on_progress,
                              held=held, held_by=held_by)
    if report.problem is None and (report.last_seq or 0, report.head_hash or head_hash) != (head_seq, head_hash):
        last = report.last_seq or 0
        what = (f"the head row says {head_seq} entries but the log ends at {last}"
                if head_seq != last else "the head row's hash differs from the last entry's")
        report = _with_problem(report, Problem(min(head_seq, last) + 1, what))
    if report.problem is None:
        report = _entries_beyond_head(node, report)
    return report


def _entries_beyond_head(node: Node, report: VerifyReport) -> VerifyReport:
    """Entries written past the head row without it (appended behind the application's back).

    The highest seq is read before the head, so an append committing in between cannot look like one."""
    with node.store.unit_of_work(readonly=True) as uow:
        highest = uow.connection.execute(select(func.max(audit_entries.c.seq))).scalar() or 0
        head_seq, _ = uow.audit.head()
    if highest > head_seq:
        return _with_problem(report, Problem(head_seq + 1, f"entries up to {highest} lie beyond the head row's"
                                                           f" {head_seq}"))
    return report


def entries_after(node: Node, actor: Actor, since: int, limit: int) -> tuple[list[AuditEntry], int | None]:
    """Entries with seq > since, at most `limit`, and the cursor of the next page (None at the end). The
    security officer reads the trail (R7.5); paging by sequence number keeps no cursor on the server."""
    access.require(node, actor, "audit.entries", None, Role.SECURITY_OFFICER)
    with closing(stream_raw_entries(node.store.engine, from_seq=since + 1, batch=limit)) as batches:
        rows = next(batches, [])
    entries = [entry_from_raw(row) for row in rows]
    more = len(entries) == limit and entry_count(node) > entries[-1].seq
    return entries, entries[-1].seq if more else None


def entry_count(node: Node) -> int:
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.audit.head()[0]


@dataclass(frozen=True, slots=True)
class ExportSummary:
    entries: int
    checkpoints: int
    first_seq: int | None


def export(node: Node, actor: Actor, out: IO[str], *, since: datetime | None = None) -> ExportSummary:
    """JSON Lines: a header, the entries from `since` on, then every checkpoint. The export is audited."""
    access.require(node, actor, "audit.export", None, Role.SECURITY_OFFICER)
    with node.store.unit_of_work() as uow:
        append(uow, node.clock(), [draft(actor, "audit.export", None,
                                        reasons=(f"since {audit_time(since)}" if since else "everything",))])
    with node.store.unit_of_work(readonly=True) as uow:
        first = uow.audit.first_seq_since(audit_time(since)) if since else 1
        checkpoints = uow.audit.checkpoints()
    out.write(json.dumps({"type": "header", "format": EXPORT_FORMAT, "party": node.party}) + "\n")
    written = 0
    if first is not None:
        for rows in stream_raw_entries(node.store.engine, from_seq=first):
            for row in rows:
                out.write(json.dumps(_entry_json(row), ensure_ascii=False, separators=(",", ":")) + "\n")
            written += len(rows)
    for c in checkpoints:
        out.write(json.dumps({"type": "checkpoint", "count": c.count, "head_hash": c.head_hash, "at": c.at,
                              "key_id": c.key_id, "signature": base64.b64encode(c.signature).decode()}) + "\n")
    return ExportSummary(written, len(checkpoints), first if written else None)


def _entry_json(row: RawEntry) -> dict[str, object]:
    seq, at, actor, via, action, subject, decision, rules, reasons, prev_hash, hashed = row
    return {"type": "entry", "seq": seq, "at": at, "actor": actor, "via": via, "action": action,
            "subject": subject, "decision": decision, "rules": json.loads(rules), "reasons": json.loads(reasons),
            "prev_hash": prev_hash, "hash": hashed}


def verify_export(lines: Iterable[str], *, check_signature: SignatureCheck | None,
                  on_progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check an export with the same verifier a node runs on itself (for partners and inspectors)."""
    entries: list[RawEntry] = []
    checkpoints: list[Checkpoint] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            kind = obj["type"]
            if kind == "entry":
                entries.append((int(obj["seq"]), obj["at"], obj["actor"], obj["via"], obj["action"],
                                obj["subject"], obj["decision"], dump_list(obj["rules"]),
                                dump_list(obj["reasons"]), obj["prev_hash"], obj["hash"]))
            elif kind == "checkpoint":
                checkpoints.append(Checkpoint(int(obj["count"]), obj["head_hash"], obj["at"], obj["key_id"],
                                              base64.b64decode(obj["signature"], validate=True)))
            elif kind != "header":
                raise ValueError(f"unknown line type {kind!r}")
        except (ValueError, KeyError, TypeError) as bad:
            raise InvalidInput(f"line {number} is not a gsomia audit export line: {bad}") from None
    complete = not entries or entries[0][0] == 1
    return verify_chain(_batches(entries), checkpoints, check_signature=check_signature,
                        complete=complete, on_progress=on_progress)


def _batches(entries: list[RawEntry], size: int = 20_000) -> Iterator[list[RawEntry]]:
    for start in range(0, len(entries), size):
        yield entries[start:start + size]


def _with_problem(report: VerifyReport, problem: Problem) -> VerifyReport:
    return VerifyReport(report.entries, report.first_seq, report.last_seq, report.head_hash,
                        report.checkpoints, report.signatures_checked, problem)


__all__ = [
    "AuditedDecision", "CheckpointSigner", "ExportSummary", "SignatureCheck", "VerifyReport", "checkpoint",
    "entries_after", "entry_count", "export", "record_decision", "tail", "verify_export", "verify_store",
]
