"""Messages from partner nodes: verified, answered once (idempotent by message id), a batch handled in one
transaction (a savepoint per message) with each message's audit entry and its signed answer; the
batch's answers are signed together (one signature over their Merkle root, each verifiable alone).

    handle_messages(node, batch, tls_party) -> per message its signed answer (a "receipt"
                                                          record) or the ProtocolError that refused it

A duplicate gets the stored answer again and changes nothing; a message outside the replay window that
was never seen is refused; every refusal is audited on this side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from gsomia.crypto import InvalidEnvelope, InvalidRecord, VerifiedRecord, open, sign_records, verify_record
from gsomia.domain.errors import DomainError
from gsomia.domain.labels import Label
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request
from gsomia.services.context import Node
from gsomia.services.exchange_common import (
    GRANTED,
    NOTICE_WITHIN,
    RESULT_WITHIN,
    audit_decision,
    audit_note,
    consents_from_records,
    enqueue,
    find_by_ref,
    item_event,
    new_id,
    node_actor,
    node_official,
)
from gsomia.services.peer_messages import PeerMessage, ProtocolError, open_message, stale
from gsomia.storage.exchange import CompromiseReport, ConsentRecord, InboxEntry
from gsomia.storage.records import ItemRecord
from gsomia.storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
Answer = tuple[str, dict[str, Any]]   # outcome (accepted | refused) and the answer's body


class Refusal(Exception):
    """A handler's refusal: what it wrote is rolled back, the answer says why (audited by the caller)."""

    def __init__(self, reason: str, rules: tuple[str, ...] = ("G3",)) -> None:
        super().__init__(reason)
        self.reason, self.rules = reason, rules


def verified(data: bytes, node: Node, record_type: str) -> VerifiedRecord:
    """A signed record carried in a message, verified against the partners' keys, or a Refusal."""
    try:
        return verify_record(data, trusted=node.partners.directory, expected_type=record_type)
    except InvalidRecord as bad:
        raise Refusal(f"the {record_type} does not verify: {bad}") from None
Handler = Callable[[Node, UnitOfWork, PeerMessage, datetime], Answer]


def handle_messages(node: Node, batch: list[bytes], tls_party: str | None,
                    ) -> list[bytes | ProtocolError]:
    """A batch of messages from one partner, answered in order, all recorded in one transaction.

    Each message is handled in its own savepoint, so one message's refusal or failure never touches
    another's records; the batch commits once (one fsync for all of them). A refusal before handling
    (bad signature, wrong sender, replay, no agreement in force) is a ProtocolError in the message's
    place, audited like the others.
    """
    now = node.clock()
    actor = node_actor(node)
    opened: list[PeerMessage | ProtocolError] = [_opened(node, data, tls_party, now) for data in batch]
    ids = [m.id for m in opened if isinstance(m, PeerMessage)]
    answers: list[bytes | ProtocolError | _Receipt] = []  # a _Receipt: signed with the others below
    receipts: dict[str, _Receipt] = {}
    try:
        with node.store.unit_of_work() as uow:
            seen = uow.exchange.seen_many(ids)  # inside the writing transaction: no copy can slip in between
            for message in opened:
                if isinstance(message, ProtocolError):
                    audit_note(uow, now, actor, "peer.message", None, ("G3",), str(message))
                    answers.append(message)
                elif message.id in seen:
                    answers.append(seen[message.id])
                elif message.id in receipts:  # the same id twice in one batch: one answer
                    answers.append(receipts[message.id])
                else:
                    handled = _handled(node, uow, message, now)
                    if isinstance(handled, _Receipt):
                        receipts[message.id] = handled
                    answers.append(handled)
            signed = _signed_receipts(node, uow, list(receipts.values()), now)
    except IntegrityError:
        # The same message delivered at once over another connection, recorded first: its answers stand.
        if len(batch) == 1:
            return [_again(node, opened[0])]
        return [handle_messages(node, [data], tls_party)[0] for data in batch]
    return [signed[a.message.id] if isinstance(a, _Receipt) else a for a in answers]


def _opened(node: Node, data: bytes, tls_party: str | None, now: datetime,
            ) -> PeerMessage | ProtocolError:
    try:
        message = open_message(data, trusted=node.partners.directory, own_party=node.party, now=now)
    except ProtocolError as bad:
        return bad
    if tls_party is None or message.sender != tls_party:
        return ProtocolError(f"message signed by {message.sender} arrived over {tls_party or 'no'} node's TLS", 403)
    return message


@dataclass(frozen=True, slots=True)
class _Receipt:
    """A message handled: what its signed answer says, signed with the batch's other answers."""
    message: PeerMessage
    outcome: str
    body: dict[str, Any]


def _handled(node: Node, uow: UnitOfWork, message: PeerMessage, now: datetime,
             ) -> _Receipt | ProtocolError:
    actor = node_actor(node)
    if stale(message, now):
        audit_note(uow, now, actor, f"peer.{message.kind}", None, ("G3",),
                   f"message {message.id} from {message.sender} sent {message.sent_at.isoformat()} is outside"
                   " the replay window: refused as a replay")
        return ProtocolError("message is outside the replay window (replayed or clock skew)", 409)
    if not any(node.catalog.status(a, now).in_force for a in node.catalog.between(node.party, message.sender)):
        audit_note(uow, now, actor, f"peer.{message.kind}", None, ("G3",),
                   f"no agreement with {message.sender} is in force")
        return ProtocolError(f"no agreement between {node.party} and {message.sender} is in force", 403)
    try:
        with uow.savepoint():
            outcome, body = HANDLERS[message.kind](node, uow, message, now)
    except Refusal as refusal:
        audit_note(uow, now, actor, f"peer.{message.kind}", None, refusal.rules, refusal.reason)
        outcome, body = "refused", {"accepted": False, "rules": list(refusal.rules), "reasons": [refusal.reason]}
    except Exception:  # a fault here, not a refusal: rolled back, unanswered, so the sender retries it
        log.exception("%s message %s from %s could not be handled", message.kind, message.id, message.sender)
        return ProtocolError(f"message {message.id} could not be handled here; it will be taken again", 500)
    return _Receipt(message, outcome, {"message_id": message.id, "kind": message.kind, "outcome": outcome,
                                       "from": node.party, **body})


def _signed_receipts(node: Node, uow: UnitOfWork, receipts: list[_Receipt], now: datetime) -> dict[str, bytes]:
    """The batch's answers, signed together (one signature over their Merkle root, each verifiable alone)
    and remembered, so that a copy of a message gets the same answer again."""
    signed = sign_records("receipt", [r.body for r in receipts], signer=node.keys, at=now)
    uow.exchange.remember([InboxEntry(r.message.id, r.message.sender, r.message.kind, now, r.outcome, response)
                           for r, response in zip(receipts, signed, strict=True)])
    return {r.message.id: response for r, response in zip(receipts, signed, strict=True)}


def _again(node: Node, message: PeerMessage | ProtocolError) -> bytes | ProtocolError:
    if isinstance(message, ProtocolError):
        return message
    with node.store.unit_of_work(readonly=True) as uow:
        again = uow.exchange.seen(message.id)
    if again is None:
        raise RuntimeError(f"message {message.id} clashed with a copy that is not recorded")
    return again.response


def _refusal(decision: Decision) -> Answer:
    return "refused", {"accepted": False, "rules": list(decision.rules), "reasons": list(decision.reasons)}


# --- items -----------------------------------------------------------------------------------------------

def on_item(node: Node, uow: UnitOfWork, message: PeerMessage, now: datetime) -> Answer:
    p = message.payload
    actor = node_actor(node)
    originator, final, via = str(p["originator"]), str(p["final"]), p.get("via")
    try:
        opened = open(bytes(p["envelope"]), recipient=node.keys, senders=node.partners.directory, at=now)
        label = Label.from_canonical(opened.label, node.catalog.schemes)
    except (InvalidEnvelope, DomainError) as bad:
        audit_note(uow, now, actor, "item.receive", str(p.get("item_ref")), ("R4.4",),
                   f"envelope from {message.sender} refused: {bad}")
        return "refused", {"accepted": False, "rules": ["R4.4"], "reasons": [f"envelope refused: {bad}"]}
    if opened.signer.party not in (originator, message.sender) or label.originator != originator:
        audit_note(uow, now, actor, "item.receive", str(p.get("item_ref")), ("R6.a",),
                   f"envelope signed by {opened.signer.party}, neither the originator nor the sender")
        return "refused", {"accepted": False, "rules": ["R6.a"], "reasons": ["envelope signer is not the provider"]}
    if final != node.party and via != node.party:
        audit_note(uow, now, actor, "item.receive", str(p.get("item_ref")), ("G1",),
                   f"item for {final} sent here by {message.sender}, and this node is not its hub")
        return "refused", {"accepted": False, "rules": ["G1"], "reasons": [f"this node is not {final} nor its hub"]}
    consents = consents_from_records(p.get("consents") or [], node.partners.directory)
    hub = str(via) if via and final != node.party else None
    relayed_in = str(via) if via and final == node.party else None
    if relayed_in is not None and message.sender != relayed_in:
        audit_note(uow, now, actor, "item.receive", str(p.get("item_ref")), ("T4",),
                   f"item said to come through {relayed_in} arrived from {message.sender}")
        return "refused", {"accepted": False, "rules": ["T4"], "reasons": ["the item did not come from its hub"]}
    if relayed_in is None and message.sender != originator and not any(
            c.by == originator and c.covers(label, str(p["item_ref"]), node.party, now) for c in consents):
        reason = (f"{message.sender} passes on {originator}'s item without {originator}'s written consent"
                  f" for {node.party}")
        audit_note(uow, now, actor, "item.receive", str(p.get("item_ref")), ("R6.a",), reason)
        return "refused", {"accepted": False, "rules": ["R6.a"], "reasons": [reason]}
    decision = decide(Request(Action.RECEIVE, now, node_official(node), label, via=relayed_in, consents=consents,
                              item_id=str(p["item_ref"])), node.catalog)
    seq = audit_decision(uow, now, actor, "item.receive", str(p["item_ref"]), decision)
    if not decision.allowed:
        return _refusal(decision)
    agreement = node.catalog.agreement(str(decision.agreement))
    marking = agreement.equivalent(label.classification, node.party)
    assert marking is not None  # an allowed receipt has an equivalent (R6.c)
    held = label.received(message.sender, marking)
    if hub is not None:  # we are the hub: forward only if the relay is allowed too (T4-T6)
        relay = decide(Request(Action.RELAY, now, node_official(node), held, recipient=final, consents=consents,
                               item_id=str(p["item_ref"])), node.catalog)
        seq = audit_decision(uow, now, actor, "item.relay", str(p["item_ref"]), relay)
        if not relay.allowed:
            return _refusal(relay)
    item = _store_received(node, uow, held, opened.plaintext, message, str(p["item_ref"]), now)
    item_event(uow, now, actor, item.id, "received", message.sender, f"under {decision.agreement}; marked {marking}"
               f" and {label.classification} (R4.4)", seq)
    body: dict[str, Any] = {"accepted": True, "holder_item_id": item.id, "national_marking": str(marking),
                            "agreement": decision.agreement, "holder": node.party}
    if hub is not None:
        forwarded = {**p, "provenance": [*p.get("provenance", []), node.party]}
        enqueue(uow, now, final, "item", forwarded, item.id)
        item_event(uow, now, actor, item.id, "relayed", final, f"to {final} under T5 consent of {originator}", seq)
        body["relayed_to"] = final
    return "accepted", body


def _store_received(node: Node, uow: UnitOfWork, label: Label, plaintext: bytes, message: PeerMessage, ref: str,
                    at: datetime) -> ItemRecord:
    label_bytes = label.canonical_bytes()
    item = ItemRecord(
        id=new_id(node.party), origin="received", originator=label.originator,
        classification=str(label.classification), national_marking=str(label.national_marking),
        releasable_to=tuple(sorted(label.releasable_to)), topics=tuple(sorted(label.topics)), purpose=label.purpose,
        label_bytes=label_bytes, sealed_content=node.sealer.seal(label_bytes, plaintext), state="held",
        custodian=node_official(node).id, location="registry", created_at=at, updated_at=at,
        origin_ref=ref, received_from=message.sender)
    uow.items.add(item)
    return item


def on_receipt(node: Node, uow: UnitOfWork, message: PeerMessage, now: datetime) -> Answer:
    """A hub passes on the final recipient's signed receipt to the originator."""
    receipt = bytes(message.payload["receipt"])
    body = verified(receipt, node, "receipt").body
    for item in find_by_ref(uow, node, node.party, str(message.payload["item_ref"])):
        seq = audit_note(uow, now, node_actor(node), "item.receipt", item.id, ("R6.f",),
                         f"{body.get('from')} received it through {message.sender}: {body.get('outcome')}")
        item_event(uow, now, node_actor(node), item.id, "receipt", str(body.get("from")), "via hub", seq, receipt)
    return "accepted", {"accepted": True}


# --- consents -------------------------------------------------------------------------------------------------

def on_consent_request(node: Node, uow: UnitOfWork, message: PeerMessage,
                       now: datetime) -> Answer:
    p = message.payload
    consent_id, to = str(p["consent_id"]), str(p["to"])
    node.catalog.schemes.require_party(to)
    if not find_by_ref(uow, node, node.party, str(p["item_ref"])):
        raise Refusal("no such item of ours")
    uow.exchange.add_consent(ConsentRecord(consent_id, node.party, to, str(p["item_ref"]), None, None,
                                           message.sender, str(p.get("purpose", "")), "requested", None, None, now))
    audit_note(uow, now, node_actor(node), "consent.requested", str(p["item_ref"]), ("R6.a",),
               f"{message.sender} asks consent to pass our item to {to}: {p.get('purpose', '')}")
    return "accepted", {"accepted": True, "consent_id": consent_id}


def on_consent(node: Node, uow: UnitOfWork, message: PeerMessage, now: datetime) -> Answer:
    p = message.payload
    consent_id = str(p["consent_id"])
    existing = uow.exchange.consent(consent_id)
    if existing is None or existing.by_party != message.sender:
        raise Refusal(f"no consent request {consent_id} to {message.sender}")
    record = bytes(p["record"]) if p.get("record") else None
    granted = bool(p.get("granted")) and record is not None
    if granted:
        assert record is not None
        consent = verified(record, node, "consent")
        body = consent.body
        if consent.signer.party != message.sender or body.get("by") != message.sender or body.get("id") != consent_id:
            raise Refusal("consent record does not match the request", ("R6.a",))
        until = datetime.fromisoformat(body["until"]) if body.get("until") else None
    uow.exchange.decide_consent(consent_id, state=GRANTED if granted else "refused", at=now, record=record,
                                until=until if granted else None)
    audit_note(uow, now, node_actor(node), "consent.received", existing.item_ref, ("R6.a",),
               f"{message.sender} {'granted' if granted else 'refused'} consent for {existing.to_party}")
    return "accepted", {"accepted": True}


# --- notices -----------------------------------------------------------------------------------------------

def on_compromise_report(node: Node, uow: UnitOfWork, message: PeerMessage,
                         now: datetime) -> Answer:
    record = bytes(message.payload["record"])
    report = verified(record, node, "compromise-report")
    body = report.body
    if body.get("reporter") != report.signer.party:
        raise Refusal("the report is not signed by its reporter", ("R17.1",))
    originator = str(body["originator"])
    if originator != node.party:  # a hub passes it on to the originator
        enqueue(uow, now, originator, "compromise-report", dict(message.payload))
    reported_at = datetime.fromisoformat(str(body["reported_at"]))
    uow.exchange.add_report(CompromiseReport(str(body["id"]), "received", originator, str(body["item_ref"]),
                                             str(body["reporter"]), str(body["description"]), reported_at,
                                             reported_at + NOTICE_WITHIN, reported_at + RESULT_WITHIN,
                                             notified_at=now, record=record))
    audit_note(uow, now, node_actor(node), "compromise.notice", str(body["item_ref"]), ("R17.1",),
               f"{body['reporter']} reports loss or compromise: {body['description']}")
    return "accepted", {"accepted": True, "report_id": str(body["id"])}


def on_compromise_result(node: Node, uow: UnitOfWork, message: PeerMessage,
                         now: datetime) -> Answer:
    record = bytes(message.payload["record"])
    result = verified(record, node, "compromise-result")
    body = result.body
    report = uow.exchange.report(str(body["id"]))
    if report is None or report.reporter != result.signer.party:
        raise Refusal("no such report")
    uow.exchange.update_report(report.id, result=str(body["result"]), result_at=now)
    audit_note(uow, now, node_actor(node), "compromise.result", report.item_ref, ("R17.1",), str(body["result"]))
    return "accepted", {"accepted": True}


def on_recall(node: Node, uow: UnitOfWork, message: PeerMessage, now: datetime) -> Answer:
    p = message.payload
    items = find_by_ref(uow, node, str(p["originator"]), str(p["item_ref"]))
    for item in items:
        seq = audit_note(uow, now, node_actor(node), "item.recall", item.id, ("R6.h",),
                         f"{p['originator']} asks for return or destruction: {p.get('reason', '')}")
        item_event(uow, now, node_actor(node), item.id, "recall-requested", message.sender, str(p.get("reason", "")),
                   seq)
        for onward in sorted({e.counterparty for e in uow.items.events(item.id)
                              if e.kind in ("relayed", "disclosed") and e.counterparty}):
            enqueue(uow, now, onward, "recall", dict(p), item.id)  # every holder, also those reached through us
    return "accepted", {"accepted": True, "holding": [i.id for i in items if i.state != "destroyed"]}


def on_reclassification(node: Node, uow: UnitOfWork, message: PeerMessage,
                         now: datetime) -> Answer:
    """R6.g: the provider changed the classification; our marking follows and the content is sealed again
    under the new label; those we passed the item on to are told in turn."""
    p = message.payload
    originator = str(p["originator"])
    new = node.catalog.schemes.parse(str(p["classification"]))
    if new.party != originator:
        raise Refusal("only the originator's marking changes", ("R6.g",))
    updated = []
    for item in find_by_ref(uow, node, originator, str(p["item_ref"])):
        if item.state == "destroyed":
            continue
        label = Label.from_canonical(item.label_bytes, node.catalog.schemes)
        equivalent = next((a.equivalent(new, node.party) for a in node.catalog.between(originator, node.party)
                           if a.equivalent(new, node.party) is not None), None)
        if equivalent is None:
            audit_note(uow, now, node_actor(node), "item.reclassify", item.id, ("R6.g", "R6.c"),
                       f"{originator} now marks it {new}, for which no agreement gives {node.party} an equivalent")
            return "refused", {"accepted": False, "rules": ["R6.c"],
                               "reasons": [f"no {node.party} equivalent of {new}"]}
        relabelled = replace(label, classification=new, national_marking=equivalent)
        label_bytes = relabelled.canonical_bytes()
        sealed = node.sealer.seal(label_bytes, node.sealer.open(item.label_bytes, item.sealed_content))
        uow.items.relabel(item.id, classification=str(new), label_bytes=label_bytes, sealed_content=sealed, at=now,
                          national_marking=str(equivalent))
        seq = audit_note(uow, now, node_actor(node), "item.reclassify", item.id, ("R6.g",),
                         f"{originator} changed it from {label.classification} to {new}; marked {equivalent} here")
        item_event(uow, now, node_actor(node), item.id, "reclassified", originator, f"{label.classification} → {new}",
                   seq)
        for onward in sorted({e.counterparty for e in uow.items.events(item.id)
                              if e.kind in ("relayed", "disclosed") and e.counterparty}):
            enqueue(uow, now, onward, "reclassification", dict(p), item.id)
        updated.append(item.id)
    return "accepted", {"accepted": True, "updated": updated}


def on_destruction_certificate(node: Node, uow: UnitOfWork, message: PeerMessage,
                               now: datetime) -> Answer:
    p = message.payload
    certificate = bytes(p["certificate"])
    signed = verified(certificate, node, "destruction-certificate")
    body = signed.body
    if signed.signer.party != p.get("holder"):
        raise Refusal("the certificate is not signed by the holder it names", ("Art.13",))
    originator = str(p["originator"])
    if originator != node.party:
        enqueue(uow, now, originator, "destruction-certificate", dict(p))  # a hub passes it on
    for item in find_by_ref(uow, node, originator, str(p["item_ref"])):
        seq = audit_note(uow, now, node_actor(node), "destruction.certificate", item.id, ("R6.h", "Art.13"),
                         f"{p['holder']} destroyed it: {body.get('method', '')}")
        item_event(uow, now, node_actor(node), item.id, "destroyed-by", str(p["holder"]), "certificate", seq,
                   certificate)
    return "accepted", {"accepted": True}


def on_checkpoint(node: Node, uow: UnitOfWork, message: PeerMessage, now: datetime) -> Answer:
    record = bytes(message.payload["record"])
    checkpoint = verified(record, node, "audit-checkpoint")
    body = checkpoint.body
    if checkpoint.signer.party != message.sender:
        raise Refusal("a checkpoint is accepted only from the node it speaks for")
    uow.exchange.add_peer_checkpoint(message.sender, int(body["count"]), str(body["head_hash"]), record, now)
    audit_note(uow, now, node_actor(node), "audit.peer-checkpoint", None, ("R6.f",),
               f"{message.sender}'s audit at {body['count']} entries, head {str(body['head_hash'])[:16]}…")
    return "accepted", {"accepted": True}


HANDLERS: dict[str, Handler] = {
    "item": on_item,
    "receipt": on_receipt,
    "consent-request": on_consent_request,
    "consent": on_consent,
    "compromise-report": on_compromise_report,
    "compromise-result": on_compromise_result,
    "recall": on_recall,
    "destruction-certificate": on_destruction_certificate,
    "reclassification": on_reclassification,
    "audit-checkpoint": on_checkpoint,
}
