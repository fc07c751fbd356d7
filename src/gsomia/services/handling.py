"""Handling an item, as the policy allows: originate, read, copy / translate, destroy, reclassify.

Each use case is ONE transaction: load the acting official as the register holds them (clearance,
expiry, need-to-know, roles, status; never the caller's possibly stale copy), build the policy
`Request` from that official and the stored item's label, `decide`, append the decision to the
audit log, allowed or refused, and change the item only when allowed. A refusal writes its audit
entry and nothing else, and raises PermissionDenied carrying the decision's rules and reasons.

Content is sealed at rest by `node.sealer` before it reaches the store and opened only after an
allowed decision is in the audit log. Plaintext is never written unsealed, never logged, and never
put in an audit entry, an item event or an exception message.

Destruction (Art. 13, R6.h) erases the sealed content so that nothing left can decrypt it (see
`storage.repositories.ItemsRepository.erase_content` and `storage.engine.reclaim_erased`) and
returns a destruction certificate signed with the node's key, for the originator.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import datetime

from gsomia.crypto import CryptoError, destruction_certificate
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request
from gsomia.domain.schemes import Classification
from gsomia.services import items, record_bodies
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import Conflict, InvalidInput, PermissionDenied, ServiceError
from gsomia.services.exchange_common import certificate_to_provider, reclassification_to_holders
from gsomia.services.record_bodies import DestructionCertificateBody
from gsomia.services.wire import from_map
from gsomia.storage.records import ItemEvent, ItemRecord
from gsomia.storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

COPY, TRANSLATION = "copy", "translation"


class ContentUnreadable(ServiceError):
    """The stored content does not open under the node's keys: altered, or sealed to a retired key."""


def originate(node: Node, actor: Actor, label: Label, plaintext: bytes, *, location: str = "registry",
              at: datetime | None = None) -> ItemRecord:
    """A new item of this party (R6.f), its content sealed at rest before it is stored. `at`: the instant
    of a batch originated together (a TAXII envelope), else now."""
    if label.originator != node.party:
        raise InvalidInput(f"an item originated here must have originator {node.party}, not {label.originator}")
    items.check_label(node, label)
    at = at or node.clock()
    with node.store.unit_of_work() as uow:
        decision = decide(Request(Action.ORIGINATE, at, _subject(uow, actor), label), node.catalog)
        item_id = items.new_item_id(node) if decision.allowed else None
        entry = append(uow, at, [draft(actor, "item.originate", item_id, decision)])
        if decision.allowed:
            label_bytes = label.canonical_bytes()
            item = items.new_record(node, actor, label, label_bytes, node.sealer.seal(label_bytes, plaintext),
                                    "originated", location=location, at=at, item_id=item_id)
            uow.items.add(item)
            uow.items.add_event(ItemEvent(item.id, at, actor.official.id, "originated", None,
                                          f"{item.classification} at {item.location}", None, entry.last_seq))
    _refuse_unless(decision)
    return item


def read(node: Node, actor: Actor, item_id: str, *, purpose: str | None = None) -> tuple[ItemRecord, bytes]:
    """The item and its plaintext, if the policy lets this official read it (R7.2, R6.b); always audited."""
    at = node.clock()
    with node.store.unit_of_work() as uow:
        item = items.live_item(uow, item_id)
        decision = decide(Request(Action.READ, at, _subject(uow, actor), _label(node, item), item_id=item_id,
                                  purpose=purpose), node.catalog)
        append(uow, at, [draft(actor, "item.read", item_id, decision)])
    _refuse_unless(decision)
    return item, _open(node, item)


def copy(node: Node, actor: Actor, item_id: str, *, translate: bool = False, reason: str,
         location: str | None = None) -> ItemRecord:
    """A reproduction or translation (Art. 16): a new item carrying the same markings (R4.5).

    The derivative's content is sealed afresh (its own content key), so destroying one of the two
    leaves nothing of the other's envelope behind, and the reverse.
    """
    if not reason.strip():
        raise InvalidInput("say why the copy is made (Art. 16)")
    action = Action.TRANSLATE if translate else Action.COPY
    at = node.clock()
    with node.store.unit_of_work() as uow:
        original = items.live_item(uow, item_id)
        decision = decide(Request(action, at, _subject(uow, actor), _label(node, original), item_id=item_id),
                          node.catalog)
        entry_draft = draft(actor, f"item.{action.value}", item_id, decision)
        if decision.allowed:
            derivative_id = items.new_item_id(node)
            entry_draft = replace(entry_draft, reasons=entry_draft.reasons + (f"derivative: {derivative_id}",
                                                                              f"reason: {reason}"))
        entry = append(uow, at, [entry_draft])
        if decision.allowed:
            resealed = node.sealer.seal(original.label_bytes, _open(node, original))
            derivative = replace(original, id=derivative_id, origin=TRANSLATION if translate else COPY,
                                 derived_from=item_id, sealed_content=resealed, state=items.HELD,
                                 custodian=actor.official.id, location=(location or original.location).strip(),
                                 created_at=at, updated_at=at)
            uow.items.add(derivative)
            kind = "translated" if translate else "copied"
            uow.items.add_event(ItemEvent(item_id, at, actor.official.id, kind, derivative_id, reason, None,
                                          entry.last_seq))
            uow.items.add_event(ItemEvent(derivative_id, at, actor.official.id, f"{COPY}-of", item_id, reason,
                                          None, entry.last_seq))
    _refuse_unless(decision)
    return derivative


def destroy(node: Node, actor: Actor, item_id: str, *, method: str, reason: str) -> bytes:
    """Destroy an item (Art. 13, R6.h): erase its sealed content and return a signed destruction certificate.

    The certificate (COSE_Sign1 record "destruction-certificate", signed with the node's current
    key: item id, label digest, method, time, officer, plus originator and originator's reference)
    is kept as the "destroyed" item event's payload, its SHA-256 is in the audit entry, and it can
    be sent to the originator and checked offline with `gsomia verify FILE --key PUB.json`. For a
    partner's item the certificate is queued for whoever provided it in the same transaction, so a
    recorded destruction always has its certificate on the way.
    """
    if not method.strip():
        raise InvalidInput("name the destruction method (Art. 13 requires a record of it)")
    if not reason.strip():
        raise InvalidInput("say why the item is destroyed (R6.h: no longer needed for its purpose)")
    at = node.clock()
    certificate = b""
    with node.store.unit_of_work() as uow:
        item = items.live_item(uow, item_id)
        decision = decide(Request(Action.DESTROY, at, _subject(uow, actor), _label(node, item), item_id=item_id),
                          node.catalog)
        entry_draft = draft(actor, "item.destroy", item_id, decision)
        if decision.allowed:
            body = from_map(DestructionCertificateBody, {
                **destruction_certificate(item_id=item_id, label=item.label_bytes, method=method.strip(),
                                          officer=actor.official.id, destroyed_at=at),
                "originator": item.originator, "origin_ref": item.origin_ref, "reason": reason.strip()},
                "destruction certificate")
            certificate = record_bodies.sign(body, signer=node.keys, at=at)
            entry_draft = replace(entry_draft, reasons=entry_draft.reasons + (
                f"method: {method.strip()}", f"reason: {reason.strip()}",
                f"certificate: {certificate_digest(certificate)}"))
        entry = append(uow, at, [entry_draft])
        if decision.allowed:
            uow.items.set_state(item_id, state=items.DESTROYED, custodian=item.custodian, location=item.location,
                                at=at, erase_content=True)
            uow.items.add_event(ItemEvent(item_id, at, actor.official.id, "destroyed", item.originator,
                                          f"method: {method.strip()}; reason: {reason.strip()}", certificate,
                                          entry.last_seq))
            if item.origin == "received" and item.received_from is not None:
                certificate_to_provider(uow, node, actor, item, certificate, at)
    _refuse_unless(decision)
    if not node.store.reclaim_erased():
        log.warning("item %s destroyed; old page images could not be reclaimed yet (the database was busy): "
                    "the next destruction will", item_id)
    return certificate


def reclassify(node: Node, actor: Actor, item_id: str, new: Classification, *, reason: str = "") -> ItemRecord:
    """The originator changes an item's classification (R6.g); its local copies follow (R4.5).

    The content is sealed again under the new label (the label is bound into the envelope). Every
    partner this node released the item to is told in writing in the same transaction (hubs pass it
    on), so a recorded change always has its notices on the way; the returned record is the item as it
    now stands.
    """
    node.schemes.level(new)  # an unknown marking is bad input, before anything is written
    at = node.clock()
    with node.store.unit_of_work() as uow:
        item = items.live_item(uow, item_id)
        label = _label(node, item)
        if label.classification == new:
            raise Conflict(f"item {item_id} is already marked {new}")
        decision = decide(Request(Action.RECLASSIFY, at, _subject(uow, actor), label, item_id=item_id,
                                  new_classification=new), node.catalog)
        entry_draft = draft(actor, "item.reclassify", item_id, decision)
        if reason.strip():
            entry_draft = replace(entry_draft, reasons=entry_draft.reasons + (f"reason: {reason.strip()}",))
        entry = append(uow, at, [entry_draft])
        if decision.allowed:
            updated = _relabel(node, uow, actor, item, new, at, entry.last_seq)
            if item.origin == "originated":
                reclassification_to_holders(uow, actor, updated, reason, at)
            pending = uow.items.derived_from(item_id)
            while pending:  # copies of copies too: every derivative carries the original's markings
                derivative = pending.pop()
                if derivative.state != items.DESTROYED:
                    _relabel(node, uow, actor, derivative, new, at, entry.last_seq)
                pending += uow.items.derived_from(derivative.id)
    _refuse_unless(decision)
    return updated


def certificate_digest(certificate: bytes) -> str:
    """How the audit log names a certificate without holding it."""
    return "sha256:" + hashlib.sha256(certificate).hexdigest()


# --- helpers ---------------------------------------------------------------------------------------

def _subject(uow: UnitOfWork, actor: Actor) -> Official:
    """The acting official as the register holds them now (an unknown one is decided as given: refused)."""
    stored = uow.officials.get(actor.official.id)
    return actor.official if stored is None else stored.official


def _label(node: Node, item: ItemRecord) -> Label:
    return Label.from_canonical(item.label_bytes, node.schemes)


def content_of(node: Node, item: ItemRecord) -> bytes:
    """The plaintext of an item whose reading the caller has had decided and audited (a TAXII listing)."""
    return _open(node, item)


def _open(node: Node, item: ItemRecord) -> bytes:
    try:
        return node.sealer.open(item.label_bytes, item.sealed_content)
    except CryptoError as bad:
        raise ContentUnreadable(f"item {item.id}: its stored content does not open: {bad.reason}") from None


def _relabel(node: Node, uow: UnitOfWork, actor: Actor, item: ItemRecord, new: Classification, at: datetime,
             audit_seq: int) -> ItemRecord:
    label = _label(node, item).reclassified(new)
    label_bytes = label.canonical_bytes()
    sealed = node.sealer.seal(label_bytes, _open(node, item))
    uow.items.relabel(item.id, classification=str(new), label_bytes=label_bytes, sealed_content=sealed, at=at)
    uow.items.add_event(ItemEvent(item.id, at, actor.official.id, "reclassified", None,
                                  f"{item.classification} → {new} (R6.g)", None, audit_seq))
    return replace(item, classification=str(new), label_bytes=label_bytes, sealed_content=sealed, updated_at=at)


def _refuse_unless(decision: Decision) -> None:
    if not decision.allowed:
        raise PermissionDenied("; ".join(decision.reasons) or "refused by the policy", rules=decision.rules,
                               reasons=decision.reasons)


__all__ = ["ContentUnreadable", "certificate_digest", "copy", "destroy", "originate", "read", "reclassify"]
