"""Appending to the audit log inside the caller's unit of work: every use case ends here."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gsomia.services.audit_chain import audit_time, entry_bytes
from gsomia.services.context import Actor
from gsomia.storage.records import AuditEntry, ItemEvent
from gsomia.storage.repositories import RawEntry, dump_tuple
from gsomia.storage.unit_of_work import UnitOfWork


class AuditedDecision(Protocol):
    """What the audit keeps of a policy decision (gsomia.domain.policy.Decision fits)."""

    @property
    def allowed(self) -> bool: ...

    @property
    def rules(self) -> tuple[str, ...]: ...

    @property
    def reasons(self) -> tuple[str, ...]: ...

    @property
    def agreement(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class EntryDraft:
    actor: str
    via: str
    action: str
    subject: str | None
    decision: str | None  # allow | deny | None
    rules: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


def draft(actor: Actor, action: str, subject: str | None, decision: AuditedDecision | None = None,
          *, rules: Sequence[str] = (), reasons: Sequence[str] = ()) -> EntryDraft:
    if decision is not None:
        # The governing agreement travels as the last reason, so the entry format stays fixed.
        why = tuple(decision.reasons) + ((f"agreement: {decision.agreement}",) if decision.agreement else ())
        return EntryDraft(actor.official.id, actor.via, action, subject,
                          "allow" if decision.allowed else "deny", tuple(decision.rules), why)
    return EntryDraft(actor.official.id, actor.via, action, subject, None, tuple(rules), tuple(reasons))


@dataclass(frozen=True, slots=True)
class Appended:
    """Where appended entries landed. Entries are not materialised: that cost as much as hashing."""

    first_seq: int
    last_seq: int
    prev_hash: str  # the head before the append: the first new entry's prev_hash
    head_hash: str


def append_one(uow: UnitOfWork, at: datetime, entry: EntryDraft) -> AuditEntry:
    done = append(uow, at, [entry])
    return AuditEntry(done.last_seq, audit_time(at), entry.actor, entry.via, entry.action, entry.subject,
                      entry.decision, entry.rules, entry.reasons, done.prev_hash, done.head_hash)


def append(uow: UnitOfWork, at: datetime, drafts: Sequence[EntryDraft],
           events: Callable[[int], Sequence[ItemEvent]] | None = None) -> Appended:
    """Chain and insert entries in the caller's transaction; the head row lock serialises writers. With
    `events`: the item events that cite the entries, made from the first entry's seq and written with them
    (on PostgreSQL one entry and its event take one round trip)."""
    seq, prev = uow.audit.lock_head()
    before = prev
    stamp = audit_time(at)
    rows: list[RawEntry] = []
    sha256, dump = hashlib.sha256, dump_tuple
    for d in drafts:
        seq += 1
        actor, via, action, subject, decision = d.actor, d.via, d.action, d.subject, d.decision
        rules, reasons = dump(d.rules), dump(d.reasons)
        canonical = entry_bytes(seq, stamp, actor, via, action, subject, decision, rules, reasons, prev)
        hashed = sha256(canonical).hexdigest()
        rows.append((seq, stamp, actor, via, action, subject, decision, rules, reasons, prev, hashed))
        prev = hashed
    if events is None:
        uow.audit.append(rows)
    else:
        uow.audit.append(rows, events(seq - len(rows) + 1))
    for listener in uow.audit_listeners:
        uow.on_commit(functools.partial(listener, drafts))
    return Appended(seq - len(rows) + 1, seq, before, prev)
