"""What the cross-border use cases share: the node's own identity, held consents, outbox rows, items by reference."""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gsomia.crypto import InvalidRecord, KeyDirectory
from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, Role
from gsomia.domain.requests import Decision
from gsomia.domain.schemes import Classification
from gsomia.services import record_bodies
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import NotFound, PermissionDenied
from gsomia.services.messages import DestructionCertificateMessage, Payload, ReclassificationMessage, encode
from gsomia.services.record_bodies import ConsentBody
from gsomia.services.wire import Malformed
from gsomia.storage.exchange import PENDING, ConsentRecord, OutboxMessage
from gsomia.storage.records import ItemEvent, ItemRecord
from gsomia.storage.unit_of_work import UnitOfWork

GRANTED = "granted"
NOTICE_WITHIN = timedelta(hours=24)   # R17.1 "immediately" (configurable)
RESULT_WITHIN = timedelta(days=30)    # R17.1 investigation result (configurable)


def node_official(node: Node) -> Official:
    """The node's service identity: accredited to its scheme's highest level; holds custody, never reads."""
    return _node_official(node.party, node.catalog.schemes.scheme(node.party).levels[0].code)


@functools.cache
def _node_official(party: str, top_level: str) -> Official:  # asked for several times per message received
    return Official(party=party, clearance=Classification(party, top_level), clearance_expires=None,
                    need_to_know=frozenset(), roles=frozenset({Role.NODE}), id=f"node:{party}", name=f"{party} node")


def node_actor(node: Node) -> Actor:
    return Actor(node_official(node), via="node")


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(10)}"


def label_of(node: Node, item: ItemRecord) -> Label:
    return Label.from_canonical(item.label_bytes, node.catalog.schemes)


def item_ref(item: ItemRecord) -> str:
    """The originator's own id for an item: how every node names the same item to the others."""
    return item.id if item.origin == "originated" else (item.origin_ref or item.id)


def find_by_ref(uow: UnitOfWork, node: Node, originator: str, ref: str) -> list[ItemRecord]:
    if originator == node.party:
        item = uow.items.get(ref)
        return [item] if item is not None else []
    return uow.items.by_origin(originator, ref)


def require_item(uow: UnitOfWork, item_id: str) -> ItemRecord:
    item = uow.items.get(item_id, for_update=True)
    if item is None:
        raise NotFound(f"unknown item {item_id!r}")
    return item


def consent_of(record: ConsentRecord) -> Consent:
    return Consent(by=record.by_party, to=record.to_party, item_id=record.item_ref,
                   topics=frozenset(record.topics) if record.topics is not None else None,
                   until=record.until, granted_at=record.granted_at, id=record.id)


@dataclass(frozen=True, slots=True)
class GrantedConsents:
    """A party's written consents held here: as the policy weighs them, and as the signed records that
    can travel with an item (one query for both)."""
    consents: tuple[Consent, ...]
    signed: tuple[tuple[Consent, bytes], ...]

    @property
    def standing(self) -> list[bytes]:
        """The standing consents (by topic, not for one item): the only ones the missile-warning feed uses."""
        return [record for consent, record in self.signed if consent.item_id is None]

    def covering(self, label: Label, item_ref: str, at: datetime) -> tuple[bytes, ...]:
        """The signed consents that travel with this item: those that cover it, to whichever third party;
        none about other items or topics, which the recipient has no need to know of."""
        return tuple(record for consent, record in self.signed if consent.covers(label, item_ref, consent.to, at))


def granted_consents(uow: UnitOfWork, by_party: str) -> GrantedConsents:
    granted = uow.exchange.consents(state=GRANTED, by_party=by_party)
    return GrantedConsents(tuple(consent_of(c) for c in granted),
                           tuple((consent_of(c), c.record) for c in granted if c.record))


def consents_from_records(records: Sequence[bytes], trusted: KeyDirectory) -> tuple[Consent, ...]:
    """Signed consents carried with an item; one that does not verify, cannot be read, or is not signed by
    the party that consents counts for nothing (default deny, R6.a)."""
    consents = []
    for data in records:
        try:
            body, record = record_bodies.read(data, ConsentBody, trusted=trusted)
            consent = consent_of_body(body)
        except (InvalidRecord, Malformed):
            continue
        if body.by == record.signer.party:
            consents.append(consent)
    return tuple(consents)


def consent_of_body(body: ConsentBody) -> Consent:
    """The consent a signed body grants; Malformed if its topics or times are not what they must be."""
    try:
        topics = json.loads(body.topics) if body.topics else None
        until = datetime.fromisoformat(body.until) if body.until else None
        granted_at = datetime.fromisoformat(body.granted_at) if body.granted_at else None
    except ValueError as bad:
        raise Malformed(f"consent {body.id}: {bad}") from None
    if topics is not None and not (isinstance(topics, list) and all(isinstance(t, str) for t in topics)):
        raise Malformed(f"consent {body.id}: topics are not a list of texts")
    if any(t is not None and t.tzinfo is None for t in (until, granted_at)):
        raise Malformed(f"consent {body.id}: a time without its zone")
    return Consent(by=body.by, to=body.to, item_id=body.item_ref,
                   topics=frozenset(topics) if topics is not None else None, until=until, granted_at=granted_at,
                   id=body.id)


def enqueue(uow: UnitOfWork, at: datetime, peer: str, message: Payload, item_id: str | None = None, *,
            message_id: str | None = None) -> str:
    """`message` for `peer`, into the outbox in the caller's transaction; the sender delivers it. Its id is
    made here unless the caller made it (`new_id("msg")`) to cite it before."""
    message_id = message_id or new_id("msg")
    uow.exchange.enqueue(OutboxMessage(message_id, peer, message.kind, item_id, encode(message), PENDING, 0, at, at))
    return message_id


def audit_decision(uow: UnitOfWork, at: datetime, actor: Actor, action: str, subject: str | None,
                   decision: Decision) -> int:
    return append(uow, at, [draft(actor, action, subject, decision)]).last_seq


def audit_note(uow: UnitOfWork, at: datetime, actor: Actor, action: str, subject: str | None,
               rules: Sequence[str], *reasons: str) -> int:
    return append(uow, at, [draft(actor, action, subject, rules=rules, reasons=reasons)]).last_seq


def item_event(uow: UnitOfWork, at: datetime, actor: Actor, item_id: str, kind: str, counterparty: str | None,
               detail: str, seq: int, receipt: bytes | None = None) -> None:
    uow.items.add_event(ItemEvent(item_id, at, actor.official.id, kind, counterparty, detail, receipt, seq))


def refused(decision: Decision) -> PermissionDenied:
    return PermissionDenied(" ".join(decision.reasons) or "refused by the policy", rules=decision.rules,
                            reasons=decision.reasons)


def require_officer(node: Node, actor: Actor, what: str, rules: tuple[str, ...]) -> None:
    """Consents and recalls are given by this node's own security officer (R6.e): no other role."""
    if Role.SECURITY_OFFICER not in actor.official.roles or actor.official.party != node.party:
        raise PermissionDenied(f"{what} is for this node's security officer", rules=rules)


def require_partner(node: Node, party: str) -> None:
    if node.partners.get(party) is None:
        raise NotFound(f"{party} is not a configured partner node (see `gsomia peers add`)")


def certificate_to_provider(uow: UnitOfWork, node: Node, actor: Actor, item: ItemRecord, certificate: bytes,
                            at: datetime) -> None:
    """A partner's item destroyed here: its signed certificate goes back to whoever provided it (Art. 13)."""
    assert item.received_from is not None  # noqa: S101 - callers pass received items only
    label = label_of(node, item)
    seq = audit_note(uow, at, actor, "destruction.certificate", item.id, ("R6.h", "Art.13"),
                     f"certificate sent to {item.received_from} for {label.originator}")
    enqueue(uow, at, item.received_from,
            DestructionCertificateMessage(item_ref(item), label.originator, node.party, certificate), item.id)
    item_event(uow, at, actor, item.id, "certificate-sent", item.received_from, "destruction certificate", seq)


def reclassification_to_holders(uow: UnitOfWork, actor: Actor, item: ItemRecord, reason: str, at: datetime) -> None:
    """R6.g: the originator changed a classification; every first hop is told in writing (hubs pass it on)."""
    hops = sorted(uow.exchange.peers_sent(item.id, "item"))
    for hop in hops:
        enqueue(uow, at, hop, ReclassificationMessage(item.id, item.originator, item.classification, reason), item.id)
    if hops:
        audit_note(uow, at, actor, "item.reclassify.notice", item.id, ("R6.g",),
                   f"{', '.join(hops)} told in writing: now {item.classification}")
