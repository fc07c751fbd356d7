"""What a node does with each kind of message from a partner, inside the savepoint `inbound` opened for it.

A handler returns the details its receipt carries, or raises `Refused` with the Decision that refused
it: its writes are then rolled back and `inbound` audits the refusal and answers it, signed. Whether
an item may be received, relayed or re-marked is the policy's decision (`domain.policy`), never a rule
written here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from gsomia.crypto import InvalidEnvelope, open
from gsomia.domain.errors import DomainError
from gsomia.domain.labels import Label
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request, refusal
from gsomia.services.agreement_inbound import on_agreement_answer, on_agreement_event, on_agreement_version
from gsomia.services.context import Node
from gsomia.services.exchange_common import (
    GRANTED,
    NOTICE_WITHIN,
    RESULT_WITHIN,
    audit_decision,
    audit_note,
    consent_of_body,
    consents_from_records,
    enqueue,
    find_by_ref,
    item_event,
    new_id,
    node_actor,
    node_official,
)
from gsomia.services.inbound_support import Details, Refused, signed
from gsomia.services.messages import (
    AgreementAnswerMessage,
    AgreementEventMessage,
    AgreementVersionMessage,
    AuditCheckpointMessage,
    CompromiseReportMessage,
    CompromiseResultMessage,
    ConsentAnswer,
    ConsentRequest,
    DestructionCertificateMessage,
    ItemMessage,
    RecallMessage,
    ReceiptMessage,
    ReclassificationMessage,
)
from gsomia.services.peer_messages import Envelope, PeerMessage
from gsomia.services.record_bodies import (
    CheckpointBody,
    CompromiseReportBody,
    CompromiseResultBody,
    ConsentBody,
    DestructionCertificateBody,
    ReceiptBody,
)
from gsomia.storage.exchange import CompromiseReport, ConsentRecord
from gsomia.storage.records import ItemEvent, ItemRecord
from gsomia.storage.unit_of_work import UnitOfWork

__all__ = ["Details", "Refused", "dispatch"]


def dispatch(node: Node, uow: UnitOfWork, message: PeerMessage, now: datetime) -> Details:
    envelope, body = message.envelope, message.body
    match body:
        case ItemMessage():
            return on_item(node, uow, envelope, body, now)
        case ReceiptMessage():
            return on_receipt(node, uow, envelope, body, now)
        case ConsentRequest():
            return on_consent_request(node, uow, envelope, body, now)
        case ConsentAnswer():
            return on_consent(node, uow, envelope, body, now)
        case CompromiseReportMessage():
            return on_compromise_report(node, uow, envelope, body, now)
        case CompromiseResultMessage():
            return on_compromise_result(node, uow, envelope, body, now)
        case RecallMessage():
            return on_recall(node, uow, envelope, body, now)
        case ReclassificationMessage():
            return on_reclassification(node, uow, envelope, body, now)
        case DestructionCertificateMessage():
            return on_destruction_certificate(node, uow, envelope, body, now)
        case AuditCheckpointMessage():
            return on_checkpoint(node, uow, envelope, body, now)
        case AgreementEventMessage():
            return on_agreement_event(node, uow, envelope, body, now)
        case AgreementAnswerMessage():
            return on_agreement_answer(node, uow, envelope, body, now)
        case AgreementVersionMessage():
            return on_agreement_version(node, uow, envelope, body, now)


# --- items -----------------------------------------------------------------------------------------------

def on_item(node: Node, uow: UnitOfWork, envelope: Envelope, item: ItemMessage, now: datetime) -> Details:
    actor = node_actor(node)
    try:
        opened = open(item.envelope, recipient=node.keys, senders=node.partners.directory, at=now)
        label = Label.from_canonical(opened.label, node.schemes)
    except (InvalidEnvelope, DomainError) as bad:
        raise Refused(refusal(("R4.4",), f"the sealed envelope from {envelope.sender} does not open here: {bad}."),
                      "item.receive", item.item_ref) from None
    if label.originator != item.originator:
        raise Refused(decide_unreadable_item(item, label), "item.receive", item.item_ref)
    consents = consents_from_records(item.consents, node.partners.directory)
    catalog = node.catalog  # once: every decision on this item under the same version
    claimed = (item.agreement or "", item.version or "")  # what the sender decided under; nothing: refused (G5)
    decision = decide(Request(Action.RECEIVE, now, node_official(node), label, recipient=item.final, via=item.via,
                              consents=consents, item_id=item.item_ref, sender=envelope.sender,
                              signer=opened.signer.party, decided_under=claimed), catalog)
    if not decision.allowed:
        raise Refused(decision, "item.receive", item.item_ref)
    seq = audit_decision(uow, now, actor, "item.receive", item.item_ref, decision)
    agreement = catalog.agreement(str(decision.agreement))
    marking = agreement.equivalent(label.classification, node.party)
    assert marking is not None  # an allowed receipt has an equivalent (R6.c)
    held = label.received(envelope.sender, marking)
    hub = item.final != node.party
    if hub:  # we are the hub: forward only if the relay is allowed too (T4-T6)
        relay = decide(Request(Action.RELAY, now, node_official(node), held, recipient=item.final, consents=consents,
                               item_id=item.item_ref), catalog)
        if not relay.allowed:
            raise Refused(relay, "item.relay", item.item_ref)
        seq = audit_decision(uow, now, actor, "item.relay", item.item_ref, relay)
    stored = _received(node, held, opened.plaintext, envelope.sender, item.item_ref, now)
    events = [ItemEvent(stored.id, now, actor.official.id, "received", envelope.sender,
                        f"under {decision.agreement}; marked {marking} and {label.classification} (R4.4)", None, seq)]
    if hub:
        events.append(ItemEvent(stored.id, now, actor.official.id, "relayed", item.final,
                                f"to {item.final} under T5 consent of {item.originator}", None, seq))
    uow.items.add(stored, events)  # with its events: one round trip on PostgreSQL
    details: Details = {"holder_item_id": stored.id, "national_marking": str(marking),
                        "agreement": decision.agreement, "holder": node.party}
    if hub:
        onward = replace(item, provenance=(*item.provenance, node.party), agreement=relay.agreement,
                         version=catalog.version(str(relay.agreement)).digest)
        enqueue(uow, now, item.final, onward, stored.id)
        details["relayed_to"] = item.final
    return details


def decide_unreadable_item(item: ItemMessage, label: Label) -> Decision:
    return refusal(("G4",), f"the message says the item is {item.originator}'s, its sealed label says"
                            f" {label.originator}'s: it cannot be taken on a guess.")


def _received(node: Node, label: Label, plaintext: bytes, sender: str, ref: str, at: datetime) -> ItemRecord:
    """The register's record of an item received, sealed at rest; not stored yet."""
    label_bytes = label.canonical_bytes()
    return ItemRecord(
        id=new_id(node.party), origin="received", originator=label.originator,
        classification=str(label.classification), national_marking=str(label.national_marking),
        releasable_to=tuple(sorted(label.releasable_to)), topics=tuple(sorted(label.topics)), purpose=label.purpose,
        label_bytes=label_bytes, sealed_content=node.sealer.seal(label_bytes, plaintext), state="held",
        custodian=node_official(node).id, location="registry", created_at=at, updated_at=at,
        origin_ref=ref, received_from=sender)


def on_receipt(node: Node, uow: UnitOfWork, envelope: Envelope, message: ReceiptMessage, now: datetime) -> Details:
    """A hub passes on the final recipient's signed receipt to the originator (R6.f)."""
    receipt, _ = signed(node, message.receipt, ReceiptBody, "item.receipt", "R6.f", message.item_ref)
    for item in find_by_ref(uow, node, node.party, message.item_ref):
        seq = audit_note(uow, now, node_actor(node), "item.receipt", item.id, ("R6.f",),
                         f"{receipt.sender} received it through {envelope.sender}: {receipt.outcome}")
        item_event(uow, now, node_actor(node), item.id, "receipt", receipt.sender, "via hub", seq,
                   message.receipt)
    return {}


# --- consents -------------------------------------------------------------------------------------------------

def on_consent_request(node: Node, uow: UnitOfWork, envelope: Envelope, request: ConsentRequest,
                       now: datetime) -> Details:
    if request.to not in node.schemes.parties:
        raise Refused(refusal(("G1",), f"{request.to} is no party known here."), "consent.requested",
                      request.item_ref)
    if not find_by_ref(uow, node, node.party, request.item_ref):
        raise Refused(refusal(("R6.a",), f"{node.party} originated no item {request.item_ref}."),
                      "consent.requested", request.item_ref)
    uow.exchange.add_consent(ConsentRecord(request.consent_id, node.party, request.to, request.item_ref, None, None,
                                           envelope.sender, request.purpose, "requested", None, None, now))
    audit_note(uow, now, node_actor(node), "consent.requested", request.item_ref, ("R6.a",),
               f"{envelope.sender} asks consent to pass our item to {request.to}: {request.purpose}")
    return {"consent_id": request.consent_id}


def on_consent(node: Node, uow: UnitOfWork, envelope: Envelope, answer: ConsentAnswer, now: datetime) -> Details:
    existing = uow.exchange.consent(answer.consent_id)
    if existing is None or existing.by_party != envelope.sender:
        raise Refused(refusal(("R6.a",), f"no consent request {answer.consent_id} to {envelope.sender} is"
                                         " known here."), "consent.received")
    granted = answer.granted and answer.record is not None
    until = None
    if answer.granted and answer.record is not None:
        body, record = signed(node, answer.record, ConsentBody, "consent.received", "R6.a", existing.item_ref)
        if record.signer.party != envelope.sender or body.by != envelope.sender or body.id != answer.consent_id:
            raise Refused(refusal(("R6.a",), "the signed consent does not match the request."), "consent.received",
                          existing.item_ref)
        until = consent_of_body(body).until
    uow.exchange.decide_consent(answer.consent_id, state=GRANTED if granted else "refused", at=now,
                                record=answer.record if granted else None, until=until)
    audit_note(uow, now, node_actor(node), "consent.received", existing.item_ref, ("R6.a",),
               f"{envelope.sender} {'granted' if granted else 'refused'} consent for {existing.to_party}")
    return {}


# --- notices -----------------------------------------------------------------------------------------------

def on_compromise_report(node: Node, uow: UnitOfWork, envelope: Envelope, message: CompromiseReportMessage,
                         now: datetime) -> Details:
    body, record = signed(node, message.record, CompromiseReportBody, "compromise.notice", "R17.1")
    if body.reporter != record.signer.party:
        raise Refused(refusal(("R17.1",), "the report is not signed by its reporter."), "compromise.notice")
    reported_at = _instant(body.reported_at, "compromise.notice")
    if body.originator != node.party:  # a hub passes it on to the originator
        enqueue(uow, now, body.originator, message)
    uow.exchange.add_report(CompromiseReport(body.id, "received", body.originator, body.item_ref, body.reporter,
                                             body.description, reported_at, reported_at + NOTICE_WITHIN,
                                             reported_at + RESULT_WITHIN, notified_at=now, record=message.record))
    audit_note(uow, now, node_actor(node), "compromise.notice", body.item_ref, ("R17.1",),
               f"{body.reporter} reports loss or compromise: {body.description}")
    return {"report_id": body.id}


def _instant(text: str, action: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise Refused(refusal(("G4",), f"{text!r} is not an ISO 8601 time with its zone."), action)
    return at


def on_compromise_result(node: Node, uow: UnitOfWork, envelope: Envelope, message: CompromiseResultMessage,
                         now: datetime) -> Details:
    body, record = signed(node, message.record, CompromiseResultBody, "compromise.result", "R17.1")
    report = uow.exchange.report(body.id)
    if report is None or report.reporter != record.signer.party:
        raise Refused(refusal(("R17.1",), f"no report {body.id} by {record.signer.party} is known here."),
                      "compromise.result")
    uow.exchange.update_report(report.id, result=body.result, result_at=now)
    audit_note(uow, now, node_actor(node), "compromise.result", report.item_ref, ("R17.1",), body.result)
    return {}


def on_recall(node: Node, uow: UnitOfWork, envelope: Envelope, recall: RecallMessage, now: datetime) -> Details:
    items = find_by_ref(uow, node, recall.originator, recall.item_ref)
    for item in items:
        seq = audit_note(uow, now, node_actor(node), "item.recall", item.id, ("R6.h",),
                         f"{recall.originator} asks for return or destruction: {recall.reason}")
        item_event(uow, now, node_actor(node), item.id, "recall-requested", envelope.sender, recall.reason, seq)
        for onward in _onward(uow, item.id):
            enqueue(uow, now, onward, recall, item.id)  # every holder, also those reached through us
    return {"holding": [i.id for i in items if i.state != "destroyed"]}


def _onward(uow: UnitOfWork, item_id: str) -> list[str]:
    """The partners this node passed the item on to (relayed or disclosed): notices follow it there."""
    return sorted({e.counterparty for e in uow.items.events(item_id)
                   if e.kind in ("relayed", "disclosed") and e.counterparty})


def on_reclassification(node: Node, uow: UnitOfWork, envelope: Envelope, notice: ReclassificationMessage,
                        now: datetime) -> Details:
    """R6.g: the provider changed the classification; our marking follows and the content is sealed again
    under the new label; those we passed the item on to are told in turn."""
    try:
        new = node.schemes.parse(notice.classification)
    except DomainError as bad:
        raise Refused(refusal(("R6.g",), f"the new classification is unknown here: {bad}"), "item.reclassify") from None
    if new.party != notice.originator:
        raise Refused(refusal(("R6.g",), "only the originator's marking changes."), "item.reclassify")
    updated = []
    for item in find_by_ref(uow, node, notice.originator, notice.item_ref):
        if item.state == "destroyed":
            continue
        label = Label.from_canonical(item.label_bytes, node.schemes)
        equivalent = next((e for a in node.catalog.between(notice.originator, node.party)
                           if (e := a.equivalent(new, node.party)) is not None), None)
        if equivalent is None:
            raise Refused(refusal(("R6.g", "R6.c"), f"{notice.originator} now marks it {new}, for which no agreement"
                                                    f" gives {node.party} an equivalent."), "item.reclassify", item.id)
        relabelled = replace(label, classification=new, national_marking=equivalent)
        label_bytes = relabelled.canonical_bytes()
        sealed = node.sealer.seal(label_bytes, node.sealer.open(item.label_bytes, item.sealed_content))
        uow.items.relabel(item.id, classification=str(new), label_bytes=label_bytes, sealed_content=sealed, at=now,
                          national_marking=str(equivalent))
        seq = audit_note(uow, now, node_actor(node), "item.reclassify", item.id, ("R6.g",),
                         f"{notice.originator} changed it from {label.classification} to {new};"
                         f" marked {equivalent} here")
        item_event(uow, now, node_actor(node), item.id, "reclassified", notice.originator,
                   f"{label.classification} → {new}", seq)
        for onward in _onward(uow, item.id):
            enqueue(uow, now, onward, notice, item.id)
        updated.append(item.id)
    return {"updated": updated}


def on_destruction_certificate(node: Node, uow: UnitOfWork, envelope: Envelope,
                               notice: DestructionCertificateMessage, now: datetime) -> Details:
    certificate, record = signed(node, notice.certificate, DestructionCertificateBody, "destruction.certificate",
                                 "Art.13")
    if record.signer.party != notice.holder:
        raise Refused(refusal(("Art.13",), "the certificate is not signed by the holder it names."),
                      "destruction.certificate")
    if notice.originator != node.party:
        enqueue(uow, now, notice.originator, notice)  # a hub passes it on
    for item in find_by_ref(uow, node, notice.originator, notice.item_ref):
        seq = audit_note(uow, now, node_actor(node), "destruction.certificate", item.id, ("R6.h", "Art.13"),
                         f"{notice.holder} destroyed it: {certificate.method}")
        item_event(uow, now, node_actor(node), item.id, "destroyed-by", notice.holder, "certificate", seq,
                   notice.certificate)
    return {}


def on_checkpoint(node: Node, uow: UnitOfWork, envelope: Envelope, message: AuditCheckpointMessage,
                  now: datetime) -> Details:
    """A partner's audit anchor, kept to give back (services/audit_anchors.py). Not itself audited: two
    nodes that audited each other's anchors would anchor each other's notes of them for ever."""
    checkpoint, record = signed(node, message.record, CheckpointBody, "audit.peer-checkpoint", "R6.f")
    if record.signer.party != envelope.sender or checkpoint.party != envelope.sender:
        raise Refused(refusal(("R6.f",), "a checkpoint is accepted only from the node it speaks for."),
                      "audit.peer-checkpoint")
    uow.exchange.add_peer_checkpoint(envelope.sender, checkpoint.count, checkpoint.head_hash, message.record, now)
    return {"count": checkpoint.count}
