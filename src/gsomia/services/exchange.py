"""Cross-border use cases an official starts: release, disclose, consent, compromise report, recall.

Each is one transaction: the policy decides, the decision is audited (allowed or refused), the
registry changes and the message for the partner is written to the outbox together. The federation
sender delivers the outbox until the partner answers, so nothing recorded is lost and nothing is
sent that was not recorded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from gsomia.crypto import seal
from gsomia.domain.catalog import Catalog
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request
from gsomia.services import audit, record_bodies, visibility
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import Conflict, InvalidInput, NotFound, ServiceError
from gsomia.services.exchange_common import (
    GRANTED,
    NOTICE_WITHIN,
    RESULT_WITHIN,
    GrantedConsents,
    audit_decision,
    audit_note,
    enqueue,
    granted_consents,
    item_event,
    item_ref,
    label_of,
    new_id,
    refused,
    require_item,
    require_officer,
    require_partner,
)
from gsomia.services.messages import (
    AuditCheckpointMessage,
    CompromiseReportMessage,
    CompromiseResultMessage,
    ConsentAnswer,
    ConsentRequest,
    ItemMessage,
    RecallMessage,
)
from gsomia.services.record_bodies import CheckpointBody, CompromiseReportBody, CompromiseResultBody, ConsentBody
from gsomia.storage.exchange import CompromiseReport, ConsentRecord
from gsomia.storage.records import ItemEvent, ItemRecord
from gsomia.storage.unit_of_work import UnitOfWork


def _sealed_for(node: Node, item_label: bytes, plaintext: bytes, parties: list[str],
                at: datetime) -> bytes:
    return seal(plaintext, label=item_label, sender=node.keys,
                recipients=[node.partners.by_party[p].keys for p in parties], at=at)


def release(node: Node, actor: Actor, item_id: str, to: str, *, via: str | None = None) -> str:
    """The originator gives its item to a partner, directly or through a hub (T4, T5). Returns the message id."""
    outcome = release_many(node, actor, [Release(item_id, to, via)])[0]
    if isinstance(outcome, ServiceError):
        raise outcome
    return outcome


@dataclass(frozen=True, slots=True)
class Release:
    item_id: str
    to: str
    via: str | None = None


def release_many(node: Node, actor: Actor, releases: Sequence[Release],
                 ) -> list[str | ServiceError]:
    """Several releases by one official, in one transaction: per release its message id, or the error
    (a refusal with the policy's rules and reasons, an unknown item …) that stopped that one alone.
    Each is decided and audited on its own, exactly as a single release."""
    at = node.clock()
    outcomes: list[str | ServiceError] = []
    catalog = node.catalog  # once: every release of the batch decided, and sent, under the same versions
    with node.store.unit_of_work() as uow:
        granted = granted_consents(uow, node.party)
        for one in releases:
            try:
                outcomes.append(_release_one(node, catalog, actor, uow, one, at, granted))
            except ServiceError as stopped:
                outcomes.append(stopped)
    return outcomes


def _release_request(node: Node, actor: Actor, uow: UnitOfWork, one: Release, at: datetime,
                     granted: GrantedConsents) -> tuple[ItemRecord, Request]:
    """The question a release puts to the policy: the same for the release and for its preview."""
    for party in (one.to, one.via) if one.via else (one.to,):
        require_partner(node, party)
    item = require_item(uow, one.item_id)
    if item.state == "destroyed":
        raise Conflict(f"item {one.item_id} was destroyed")
    return item, Request(Action.RELEASE, at, actor.official, label_of(node, item), recipient=one.to, via=one.via,
                         consents=granted.consents, item_id=item.id)


def preview_release(node: Node, actor: Actor, item_id: str, to: str, *, via: str | None = None) -> Decision:
    """What the policy would answer to this release now, with its rules and reasons, for the official to see
    before confirming. A what-if, like `gsomia decide`: nothing is written and nothing audited (the release
    itself, allowed or refused, is). Only for an item the official may see (a refusal of that is audited)."""
    visibility.visible_item(node, actor, item_id, "item.release.preview")
    with node.store.unit_of_work(readonly=True) as uow:
        _, request = _release_request(node, actor, uow, Release(item_id, to, via), node.clock(),
                                      granted_consents(uow, node.party))
    return decide(request, node.catalog)


def _release_one(node: Node, catalog: Catalog, actor: Actor, uow: UnitOfWork, one: Release, at: datetime,
                 granted: GrantedConsents) -> str:
    item, request = _release_request(node, actor, uow, one, at, granted)
    label = request.item
    decision = decide(request, catalog)
    if not decision.allowed:
        audit_decision(uow, at, actor, "item.release", item.id, decision)
        raise refused(decision)
    plaintext = node.sealer.open(item.label_bytes, item.sealed_content)
    hops = [one.to] + ([one.via] if one.via else [])
    envelope = _sealed_for(node, item.label_bytes, plaintext, hops, at)
    message = ItemMessage(item.id, node.party, envelope, one.to, one.via, granted.covering(label, item.id, at),
                          (node.party,), **decided_under(catalog, decision))
    message_id = new_id("msg")
    uow.items.set_state(item.id, state="released", custodian=item.custodian, location=item.location, at=at)
    detail = f"under {decision.agreement}" + (f" via {one.via}" if one.via else "") + f"; message {message_id}"
    # The allowed decision is audited with the item event citing it (one statement on PostgreSQL), and the
    # message is written last: in a writer batch on PostgreSQL the writes before it leave without waiting
    # and the outbox insert, whose answer is read, is the unit's one wait after reading the item. All of it is
    # one unit, so what is kept is the same as in any other order.
    append(uow, at, [draft(actor, "item.release", item.id, decision)], lambda seq: [
        ItemEvent(item.id, at, actor.official.id, "released", one.to, detail, None, seq)])
    return enqueue(uow, at, one.via or one.to, message, item.id, message_id=message_id)


def decided_under(catalog: Catalog, decision: Decision) -> dict[str, str | None]:
    """The agreement an item was released under and this node's version of it, for the receiver to hold
    the same (G5)."""
    agreement = decision.agreement
    return {"agreement": agreement, "version": catalog.version(agreement).digest if agreement else None}


def disclose(node: Node, actor: Actor, item_id: str, to: str) -> str:
    """A holder passes a partner's item to a third party: only with the originator's written consent (R6.a)."""
    at = node.clock()
    with node.store.unit_of_work() as uow:
        item, granted, request = _disclose_request(node, actor, uow, item_id, to, at)
        label = request.item
        catalog = node.catalog
        decision = decide(request, catalog)
        seq = audit_decision(uow, at, actor, "item.disclose", item_id, decision)
        if decision.allowed:
            plaintext = node.sealer.open(item.label_bytes, item.sealed_content)
            # The originator's label as it was provided, without our own marking.
            original_bytes = replace(label, provider=None, national_marking=None).canonical_bytes()
            envelope = _sealed_for(node, original_bytes, plaintext, [to], at)
            message = ItemMessage(item_ref(item), label.originator, envelope, to, None,
                                  granted.covering(label, item_ref(item), at), (label.originator, node.party),
                                  disclosed_by=node.party, **decided_under(catalog, decision))
            message_id = enqueue(uow, at, to, message, item.id)
            item_event(uow, at, actor, item.id, "disclosed", to, f"with {label.originator}'s written consent;"
                       f" message {message_id}", seq)
    if not decision.allowed:
        raise refused(decision)
    return message_id


def _disclose_request(node: Node, actor: Actor, uow: UnitOfWork, item_id: str, to: str,
                      at: datetime) -> tuple[ItemRecord, GrantedConsents, Request]:
    """The question a disclosure puts to the policy: the same for the disclosure and for its preview."""
    require_partner(node, to)
    item = require_item(uow, item_id)
    label = label_of(node, item)
    granted = granted_consents(uow, label.originator)
    return item, granted, Request(Action.DISCLOSE, at, actor.official, label, recipient=to,
                                  consents=granted.consents, item_id=item_ref(item))


def preview_disclose(node: Node, actor: Actor, item_id: str, to: str) -> Decision:
    """What the policy would answer to this disclosure now (R6.a): a what-if, written nowhere, as
    `preview_release`."""
    visibility.visible_item(node, actor, item_id, "item.disclose.preview")
    with node.store.unit_of_work(readonly=True) as uow:
        _, _, request = _disclose_request(node, actor, uow, item_id, to, node.clock())
    return decide(request, node.catalog)


def request_consent(node: Node, actor: Actor, item_id: str, to: str, purpose: str) -> str:
    """Ask the originator for written consent to pass its item to a third party (R6.a)."""
    at = node.clock()
    with node.store.unit_of_work() as uow:
        item = require_item(uow, item_id)
        label = label_of(node, item)
        if label.originator == node.party:
            raise InvalidInput("this node originated the item: no consent is needed from anyone else")
        require_partner(node, label.originator)
        consent_id = new_id("consent")
        uow.exchange.add_consent(ConsentRecord(consent_id, label.originator, to, item_ref(item), None, None,
                                               node.party, purpose, "requested", None, None, at))
        seq = audit_note(uow, at, actor, "consent.request", item_id, ("R6.a",),
                         f"asked {label.originator} for consent to pass the item to {to}: {purpose}")
        enqueue(uow, at, label.originator, ConsentRequest(consent_id, item_ref(item), to, purpose), item.id)
        item_event(uow, at, actor, item.id, "consent-requested", to, purpose, seq)
    return consent_id


def answer_consent(node: Node, actor: Actor, consent_id: str, *, grant: bool,
                   until: datetime | None = None, reason: str = "") -> ConsentRecord:
    """The originator's security officer grants (signed, scoped, with expiry) or refuses (R6.a, T5)."""
    require_officer(node, actor, "answering a consent request", ("R6.a", "R6.e"))
    at = node.clock()
    with node.store.unit_of_work() as uow:
        consent = uow.exchange.consent(consent_id)
        if consent is None or consent.by_party != node.party:
            raise NotFound(f"no consent request {consent_id!r} for this node to answer")
        if consent.state != "requested":
            raise Conflict(f"consent {consent_id} is already {consent.state}")
        record = _signed_consent(node, consent, until, at) if grant else None
        state = GRANTED if grant else "refused"
        uow.exchange.decide_consent(consent_id, state=state, at=at, record=record, until=until)
        audit_note(uow, at, actor, f"consent.{'grant' if grant else 'refuse'}", consent.item_ref, ("R6.a", "T5"),
                   f"{state} consent for {consent.to_party}" + (f" until {until:%Y-%m-%d}" if until else "")
                   + (f": {reason}" if reason else ""))
        if consent.requested_by and consent.requested_by != node.party:
            enqueue(uow, at, consent.requested_by, ConsentAnswer(consent_id, grant, record, reason))
        answered = uow.exchange.consent(consent_id)
    assert answered is not None
    return answered


def grant_standing_consent(node: Node, actor: Actor, to: str, topics: list[str], *, until: datetime | None,
                           purpose: str) -> ConsentRecord:
    """A standing written approval for a scope of topics (T5: the hub may pass our items on to `to`)."""
    require_officer(node, actor, "giving consent", ("R6.a", "R6.e"))
    node.catalog.schemes.require_party(to)
    if not topics:
        raise InvalidInput("a standing consent names its topics")
    at = node.clock()
    consent = ConsentRecord(new_id("consent"), node.party, to, None, tuple(sorted(topics)), until, node.party,
                            purpose, GRANTED, at, None, at)
    consent = replace(consent, record=_signed_consent(node, consent, until, at))
    with node.store.unit_of_work() as uow:
        uow.exchange.add_consent(consent)
        audit_note(uow, at, actor, "consent.standing", None, ("T5", "R6.a"),
                   f"standing consent for {to} on {', '.join(sorted(topics))}" + (f" until {until}" if until else ""))
    return consent


def _signed_consent(node: Node, consent: ConsentRecord, until: datetime | None, at: datetime) -> bytes:
    topics = json.dumps(sorted(consent.topics)) if consent.topics is not None else None
    return record_bodies.sign(ConsentBody(consent.id, consent.by_party, consent.to_party, consent.item_ref, topics,
                                          until.isoformat() if until else None, at.isoformat(), consent.purpose),
                              signer=node.keys, at=at)


def report_compromise(node: Node, actor: Actor, item_id: str, description: str) -> str:
    """R17.1: loss or compromise, actual or possible: the provider is told at once; a result must follow."""
    if not description.strip():
        raise InvalidInput("describe the loss or compromise")
    at = node.clock()
    with node.store.unit_of_work() as uow:
        item = require_item(uow, item_id)
        label = label_of(node, item)
        report_id = new_id("report")
        record = record_bodies.sign(CompromiseReportBody(report_id, item_ref(item), label.originator, node.party,
                                                         description, at.isoformat()), signer=node.keys, at=at)
        uow.exchange.add_report(CompromiseReport(report_id, "sent", label.originator, item_ref(item), node.party,
                                                 description, at, at + NOTICE_WITHIN, at + RESULT_WITHIN,
                                                 record=record))
        seq = audit_note(uow, at, actor, "compromise.report", item_id, ("R17.1",), description)
        item_event(uow, at, actor, item.id, "compromised", label.originator, description, seq)
        if label.originator != node.party:
            to = label.originator if node.partners.get(label.originator) else (item.received_from or label.originator)
            enqueue(uow, at, to, CompromiseReportMessage(report_id, record), item.id)
    return report_id


def report_result(node: Node, actor: Actor, report_id: str, result: str) -> None:
    """R17.1: the investigation's result and the measures taken against recurrence, to the provider."""
    at = node.clock()
    with node.store.unit_of_work() as uow:
        report = uow.exchange.report(report_id)
        if report is None or report.direction != "sent":
            raise NotFound(f"no compromise report {report_id!r} made by this node")
        record = record_bodies.sign(CompromiseResultBody(report_id, result, at.isoformat()), signer=node.keys, at=at)
        uow.exchange.update_report(report_id, result=result, result_at=at)
        audit_note(uow, at, actor, "compromise.result", report.item_ref, ("R17.1",), result)
        if report.originator != node.party:
            enqueue(uow, at, report.originator, CompromiseResultMessage(report_id, record))


def recall(node: Node, actor: Actor, item_id: str, reason: str) -> list[str]:
    """R6.h: ask every holder to return or destroy the item; hubs pass the request on to those they relayed to."""
    require_officer(node, actor, "a recall", ("R6.h", "R6.e"))
    at = node.clock()
    with node.store.unit_of_work() as uow:
        item = require_item(uow, item_id)
        if item.origin != "originated":
            raise InvalidInput("only the originator recalls an item (R6.h)")
        holders = sorted({e.counterparty for e in uow.items.events(item.id)
                          if e.kind == "released" and e.counterparty})
        first_hops = sorted(uow.exchange.peers_sent(item.id, "item"))  # a hub passes the recall on
        seq = audit_note(uow, at, actor, "item.recall", item_id, ("R6.h",),
                         f"recall from {', '.join(holders) or 'nobody'}: {reason}")
        for hop in first_hops:
            enqueue(uow, at, hop, RecallMessage(item.id, node.party, reason), item.id)
        item_event(uow, at, actor, item.id, "recalled", ",".join(holders), reason, seq)
    return holders


def exchange_checkpoint(node: Node, actor: Actor) -> int:
    """Sign our audit head and send it to every partner, so each can later prove what the other held and did."""
    checkpoint = audit.checkpoint(node, actor, node.checkpoint_signer)
    at = node.clock()
    record = record_bodies.sign(CheckpointBody(checkpoint.count, checkpoint.head_hash, checkpoint.at, node.party),
                                signer=node.keys, at=at)
    with node.store.unit_of_work() as uow:
        for party in sorted(node.partners.by_party):
            enqueue(uow, at, party, AuditCheckpointMessage(record))
    return checkpoint.count
