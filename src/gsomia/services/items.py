"""The item registry (R6.f): identification, location, inventory, custody and distribution of every item.

Content is stored as whatever the injected ContentSealer returns (`sealed_content`); this module never
looks inside it. Whether an official may release or read an item is the policy's decision, passed in
and audited here with the state change in one transaction; a refused decision writes only its audit.

The use cases that ASK the policy themselves (originate, read, copy, destroy with a signed
certificate, reclassify) are in `gsomia.services.handling`; the API and the CLI call those. The
functions here that take a decision or no decision at all (register_originated, open_content,
record_copy, record_destruction) are the registry's building blocks, kept for receive/release paths
and tests; callers acting for an official should not use them directly.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime

from gsomia.domain.labels import Label
from gsomia.domain.officials import Role
from gsomia.services import access
from gsomia.services.audit_log import AuditedDecision, append, draft
from gsomia.services.context import Actor, ContentSealer, Node
from gsomia.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gsomia.storage.records import ItemEvent, ItemRecord
from gsomia.storage.unit_of_work import UnitOfWork

RULES = ("R6.f",)
HELD, RELEASED, DESTROYED = "held", "released", "destroyed"
KEEPERS = (Role.SECURITY_OFFICER, Role.RELEASING_OFFICIAL, Role.NODE)


def register_originated(node: Node, actor: Actor, label: Label, plaintext: bytes,
                        sealer: ContentSealer, *, location: str) -> ItemRecord:
    if label.originator != node.party:
        raise InvalidInput(f"an item originated here must have originator {node.party}, not {label.originator}")
    check_label(node, label)
    access.require(node, actor, "item.originate", None, *KEEPERS)
    label_bytes = label.canonical_bytes()
    item = new_record(node, actor, label, label_bytes, sealer.seal(label_bytes, plaintext), "originated",
                     location=location)
    return _store_new(node, actor, item, "originated", None, "item.originate")


def register_received(node: Node, actor: Actor, label: Label, sealed_content: bytes, *,
                      from_party: str, origin_ref: str | None, location: str,
                      receipt: bytes | None = None) -> ItemRecord:
    """A received item, kept under both markings (R4.4): its label must be dual-marked already."""
    if not label.dual_marked or label.national_marking is None or label.national_marking.party != node.party:
        raise InvalidInput(f"a received item needs the provider and a {node.party} equivalent marking (R4.4)")
    check_label(node, label)
    node.schemes.require_party(from_party)
    access.require(node, actor, "item.receive", None, *KEEPERS)
    item = new_record(node, actor, label, label.canonical_bytes(), sealed_content, "received", location=location)
    item = replace(item, origin_ref=origin_ref, received_from=from_party)
    return _store_new(node, actor, item, "received", from_party, "item.receive", receipt)


def record_release(node: Node, actor: Actor, item_id: str, to_party: str,
                   decision: AuditedDecision) -> ItemRecord:
    """Record a release the policy decided on; a refusal is audited and raised as PermissionDenied."""
    node.schemes.require_party(to_party)
    at = node.clock()
    with node.store.unit_of_work() as uow:
        item = live_item(uow, item_id)
        entry = append(uow, at, [draft(actor, "item.release", item_id, decision)])
        if decision.allowed:
            uow.items.set_state(item_id, state=RELEASED, custodian=item.custodian, location=item.location, at=at)
            uow.items.add_event(ItemEvent(item_id, at, actor.official.id, "released", to_party,
                                          "; ".join(decision.reasons), None, entry.last_seq))
    if not decision.allowed:
        raise PermissionDenied("; ".join(decision.reasons) or "release refused")
    return replace(item, state=RELEASED, updated_at=at)


def record_receipt(node: Node, actor: Actor, item_id: str, from_party: str, receipt: bytes) -> None:
    """The recipient's signed receipt for a release, kept with the distribution history."""
    access.require(node, actor, "item.receipt", item_id, *KEEPERS)
    with node.store.unit_of_work() as uow:
        item = _existing(uow, item_id)
        if not any(e.kind == "released" and e.counterparty == from_party for e in uow.items.events(item_id)):
            raise Conflict(f"item {item_id} was never released to {from_party}")
        _event(uow, node, actor, item, "receipt", from_party, "receipt", receipt=receipt)


def record_copy(node: Node, actor: Actor, item_id: str, *, reason: str, location: str) -> ItemRecord:
    """A reproduction (Art. 16): a new item with the same label, recorded against its original."""
    access.require(node, actor, "item.copy", item_id, *KEEPERS)
    at = node.clock()
    with node.store.unit_of_work() as uow:
        original = live_item(uow, item_id)
        copy = replace(original, id=new_item_id(node), origin="copy", derived_from=item_id, state=HELD,
                       custodian=actor.official.id, location=location, created_at=at, updated_at=at)
        uow.items.add(copy)
        _event(uow, node, actor, original, "copied", copy.id, reason)
        _event(uow, node, actor, copy, "copy-of", item_id, reason)
    return copy


def transfer_custody(node: Node, actor: Actor, item_id: str, *, to_official: str, location: str,
                     reason: str) -> ItemRecord:
    access.require(node, actor, "item.custody", item_id, *KEEPERS)
    with node.store.unit_of_work() as uow:
        item = live_item(uow, item_id)
        if uow.officials.get(to_official) is None:
            raise NotFound(f"unknown official {to_official!r}")
        at = node.clock()
        uow.items.set_state(item_id, state=item.state, custodian=to_official, location=location, at=at)
        _event(uow, node, actor, item, "custody", to_official, f"{reason} (location: {location})")
    return replace(item, custodian=to_official, location=location, updated_at=at)


def record_destruction(node: Node, actor: Actor, item_id: str, *, method: str, reason: str) -> ItemRecord:
    """Art. 13 / R6.h: the record of destruction; the stored content is erased with it."""
    if not method.strip():
        raise InvalidInput("name the destruction method (Art. 13 requires a record of it)")
    access.require(node, actor, "item.destroy", item_id, Role.SECURITY_OFFICER, Role.NODE)
    at = node.clock()
    with node.store.unit_of_work() as uow:
        item = live_item(uow, item_id)
        uow.items.set_state(item_id, state=DESTROYED, custodian=item.custodian, location=item.location, at=at,
                            erase_content=True)
        _event(uow, node, actor, item, "destroyed", None, f"method: {method}; reason: {reason}",
               rules=("R6.h", "Art.13"))
    node.store.reclaim_erased()  # no earlier page image of the content left behind (see its docstring)
    return replace(item, state=DESTROYED, sealed_content=b"", updated_at=at)


def open_content(node: Node, actor: Actor, item_id: str, sealer: ContentSealer,
                 decision: AuditedDecision) -> bytes:
    """The plaintext, if the policy allowed this official to read it; every attempt is audited."""
    with node.store.unit_of_work() as uow:
        item = live_item(uow, item_id)
        append(uow, node.clock(), [draft(actor, "item.read", item_id, decision)])
    if not decision.allowed:
        raise PermissionDenied("; ".join(decision.reasons) or "access refused")
    return sealer.open(item.label_bytes, item.sealed_content)


def list_items(node: Node, actor: Actor, *, state: str | None = None, limit: int = 1000) -> list[ItemRecord]:
    access.require(node, actor, "item.list", None, *KEEPERS)
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.items.find(state, limit)


def get_item(node: Node, actor: Actor, item_id: str) -> ItemRecord:
    access.require(node, actor, "item.show", item_id, *KEEPERS)
    return _item(node, item_id)


def item_history(node: Node, actor: Actor, item_id: str) -> list[ItemEvent]:
    access.require(node, actor, "item.history", item_id, *KEEPERS)
    _item(node, item_id)
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.items.events(item_id)


# --- helpers ---------------------------------------------------------------------------------------

def check_label(node: Node, label: Label) -> None:
    node.schemes.level(label.classification)  # raises on an unknown marking
    if not label.purpose.strip():
        raise InvalidInput("an item's label must state its purpose (R6.b)")


def new_item_id(node: Node) -> str:
    return f"{node.party}-{secrets.token_hex(8)}"


def new_record(node: Node, actor: Actor, label: Label, label_bytes: bytes, sealed: bytes, origin: str,
               *, location: str, at: datetime | None = None, item_id: str | None = None) -> ItemRecord:
    at = at or node.clock()
    return ItemRecord(
        id=item_id or new_item_id(node), origin=origin, originator=label.originator,
        classification=str(label.classification),
        national_marking=str(label.national_marking) if label.national_marking else None,
        releasable_to=tuple(sorted(label.releasable_to)), topics=tuple(sorted(label.topics)),
        purpose=label.purpose, label_bytes=label_bytes, sealed_content=sealed, state=HELD,
        custodian=actor.official.id, location=location.strip() or "unspecified", created_at=at, updated_at=at)


def _store_new(node: Node, actor: Actor, item: ItemRecord, kind: str, counterparty: str | None,
               action: str, receipt: bytes | None = None) -> ItemRecord:
    with node.store.unit_of_work() as uow:
        uow.items.add(item)
        _event(uow, node, actor, item, kind, counterparty, f"{item.classification} at {item.location}",
               receipt=receipt, action=action)
    return item


def _event(uow: UnitOfWork, node: Node, actor: Actor, item: ItemRecord, kind: str, counterparty: str | None,
           detail: str, *, receipt: bytes | None = None, action: str | None = None,
           rules: tuple[str, ...] = RULES) -> None:
    at = node.clock()
    reasons = (detail,) if counterparty is None else (detail, f"counterparty: {counterparty}")
    entry = append(uow, at, [draft(actor, action or f"item.{kind}", item.id, rules=rules, reasons=reasons)])
    uow.items.add_event(ItemEvent(item.id, at, actor.official.id, kind, counterparty, detail, receipt, entry.last_seq))


def _item(node: Node, item_id: str) -> ItemRecord:
    with node.store.unit_of_work(readonly=True) as uow:
        return _existing(uow, item_id)


def _existing(uow: UnitOfWork, item_id: str, *, for_update: bool = False) -> ItemRecord:
    item = uow.items.get(item_id, for_update=for_update)
    if item is None:
        raise NotFound(f"unknown item {item_id!r}")
    return item


def live_item(uow: UnitOfWork, item_id: str) -> ItemRecord:
    """The item, locked for this unit of work (checked and changed in one transaction)."""
    item = _existing(uow, item_id, for_update=True)
    if item.state == DESTROYED:
        raise Conflict(f"item {item_id} was destroyed")
    return item


__all__ = [
    "DESTROYED", "HELD", "RELEASED", "ItemEvent", "ItemRecord", "check_label", "get_item", "item_history",
    "list_items", "live_item", "new_item_id", "new_record", "open_content", "record_copy", "record_destruction",
    "record_receipt", "record_release", "register_originated", "register_received", "transfer_custody",
]
