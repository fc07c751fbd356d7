"""Dataclasses from the services → the pydantic shapes of schemas.py. No logic beyond renaming."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import overload

from gsomia.api import schemas
from gsomia.domain.agreements import Agreement
from gsomia.domain.labels import Label
from gsomia.domain.life import Status
from gsomia.domain.schemes import Schemes
from gsomia.services.agreement_events import EventView, Versions
from gsomia.services.agreements import agreement_dict, status_dict
from gsomia.services.audit_chain import VerifyReport
from gsomia.services.context import Actor
from gsomia.services.items import ItemEvent, ItemRecord
from gsomia.services.officials import OfficialChange, OfficialRecord
from gsomia.storage.records import AuditEntry, Checkpoint  # plain dataclasses; services.audit does not re-export them


@overload
def utc(at: datetime) -> datetime: ...
@overload
def utc(at: None) -> None: ...
def utc(at: datetime | None) -> datetime | None:
    """Every time the API shows is UTC, whatever offset it was given in."""
    return None if at is None else at.astimezone(timezone.utc)


def official(record: OfficialRecord) -> schemas.OfficialOut:
    o = record.official
    return schemas.OfficialOut(
        id=o.id, name=o.name, party=o.party, clearance=str(o.clearance), granted=utc(record.clearance_granted),
        expires=utc(o.clearance_expires), need_to_know=sorted(o.need_to_know), roles=sorted(o.roles),
        status=o.status, updated_at=utc(record.updated_at))


def official_detail(record: OfficialRecord, changes: list[OfficialChange]) -> schemas.OfficialDetail:
    return schemas.OfficialDetail(**official(record).model_dump(), changes=[
        schemas.OfficialChangeOut(at=utc(c.at), by=c.actor_id, action=c.action, reason=c.reason) for c in changes])


def whoami(actor: Actor) -> schemas.WhoAmI:
    o = actor.official
    return schemas.WhoAmI(id=o.id, name=o.name, party=o.party, clearance=str(o.clearance),
                          expires=utc(o.clearance_expires), need_to_know=sorted(o.need_to_know), roles=sorted(o.roles),
                          via=actor.via)


def agreement(a: Agreement) -> schemas.AgreementOut:
    return schemas.AgreementOut.model_validate(agreement_dict(a))


def agreement_with_status(a: Agreement, status: Status) -> schemas.AgreementWithStatus:
    return schemas.AgreementWithStatus.model_validate({**agreement_dict(a), "status": status_dict(status)})


def status(s: Status) -> schemas.StatusOut:
    return schemas.StatusOut.model_validate(status_dict(s))


def item(i: ItemRecord) -> schemas.ItemOut:
    return schemas.ItemOut(
        id=i.id, origin=i.origin, originator=i.originator, classification=i.classification,
        national_marking=i.national_marking, releasable_to=list(i.releasable_to), topics=list(i.topics),
        purpose=i.purpose, state=i.state, custodian=i.custodian, location=i.location, received_from=i.received_from,
        origin_ref=i.origin_ref, derived_from=i.derived_from, created_at=utc(i.created_at),
        updated_at=utc(i.updated_at))


def item_detail(i: ItemRecord, schemes: Schemes) -> schemas.ItemDetail:
    label = Label.from_canonical(i.label_bytes, schemes)
    return schemas.ItemDetail(**item(i).model_dump(), label=schemas.LabelView(
        banner=label.banner(schemes), dual_marking=label.dual_marking(schemes), stanag4774=label.to_stanag4774(),
        stanag4774_xml=label.to_stanag4774_xml()))


def content(item_id: str, plaintext: bytes) -> schemas.ContentOut:
    try:
        text: str | None = plaintext.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return schemas.ContentOut(item_id=item_id, content_base64=base64.b64encode(plaintext).decode(), content_text=text)


def item_event(e: ItemEvent) -> schemas.ItemEventOut:
    return schemas.ItemEventOut(at=utc(e.at), kind=e.kind, by=e.actor_id, counterparty=e.counterparty, detail=e.detail,
                                receipt=e.receipt is not None, audit_seq=e.audit_seq)


def audit_entry(e: AuditEntry) -> schemas.AuditEntryOut:
    return schemas.AuditEntryOut(seq=e.seq, at=e.at, actor=e.actor, via=e.via, action=e.action, subject=e.subject,
                                 decision=e.decision, rules=list(e.rules), reasons=list(e.reasons),
                                 prev_hash=e.prev_hash, hash=e.entry_hash)


def verify_report(r: VerifyReport) -> schemas.VerifyOut:
    problem = schemas.ProblemOut(seq=r.problem.seq, what=r.problem.what) if r.problem else None
    return schemas.VerifyOut(ok=r.ok, entries=r.entries, first_seq=r.first_seq, last_seq=r.last_seq,
                             head_hash=r.head_hash, checkpoints=r.checkpoints,
                             signatures_checked=r.signatures_checked, problem=problem)


def checkpoint(c: Checkpoint) -> schemas.CheckpointOut:
    return schemas.CheckpointOut(count=c.count, head_hash=c.head_hash, at=c.at, key_id=c.key_id,
                                 signature_base64=base64.b64encode(c.signature).decode())


def agreement_event(view: EventView) -> schemas.AgreementEventOut:
    r = view.record
    return schemas.AgreementEventOut(
        id=r.id, agreement=r.agreement, kind=r.kind, by=r.by_party, given=r.given, decided=r.decided,
        reference=r.reference, notice=r.notice, amendment=view.amendment, origin=r.origin,
        recorded_by=r.recorded_by, recorded_at=utc(r.recorded_at), digest=r.digest, state=r.state,
        applied=r.applied, decided_by=r.decided_by, decided_at=utc(r.decided_at), reason=r.reason,
        answers=[schemas.EventAnswerOut(party=a.party, confirmed=a.confirmed, reason=a.reason, at=utc(a.at))
                 for a in view.answers])


def versions(v: Versions) -> schemas.VersionsOut:
    ours = schemas.VersionOut(agreement=v.ours.agreement, digest=v.ours.digest, baseline=v.ours.baseline,
                              events=[schemas.EventRefOut(id=i, digest=d) for i, d in v.ours.events])
    return schemas.VersionsOut(ours=ours, partners=[schemas.PartnerVersionOut(
        party=p.party, digest=p.digest, same=p.same, baseline_differs=p.baseline_differs,
        only_ours=list(p.only_ours), only_theirs=list(p.only_theirs), content_differs=list(p.content_differs),
        states_here=dict(p.states), told_at=utc(p.told_at)) for p in v.partners])
