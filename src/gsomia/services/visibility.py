"""What an official may see of the registry: a security officer everything (R6.f, the registry's keeper);
anyone else only the items the policy would let them read (R7.2 clearance and need-to-know: a label's
topics and purpose are themselves need-to-know). The policy's own `read` decision, never a rule of ours.
"""

from __future__ import annotations

from datetime import datetime

from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, OfficialStatus, Role
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request
from gsomia.services import audit
from gsomia.services.context import Actor, Node
from gsomia.services.errors import NotFound, PermissionDenied
from gsomia.storage.records import ItemEvent, ItemRecord

SCAN_LIMIT = 100_000  # items looked at for one listing, at most (filters other than state and originator, and
# a reader's decisions, are applied after reading)
SCAN_BATCH = 500  # items read at a time: a listing holds one page of the registry in memory, never all of it


def sees_everything(actor: Actor) -> bool:
    official = actor.official
    return Role.SECURITY_OFFICER in official.roles and official.status is OfficialStatus.ACTIVE


def read_decision(node: Node, actor: Actor, item: ItemRecord) -> Decision:
    return decide_read(node, actor.official, item, node.clock())


def decide_read(node: Node, official: Official, item: ItemRecord, at: datetime) -> Decision:
    """The policy's read decision on `item` for `official` at `at` (nothing recorded: callers audit it)."""
    label = Label.from_canonical(item.label_bytes, node.schemes)
    return decide(Request(Action.READ, at, official, label, item_id=item.id), node.catalog)


def visible_items(node: Node, actor: Actor, *, state: str | None = None, originator: str | None = None,
                  topic: str | None = None, limit: int = 100) -> list[ItemRecord]:
    """The inventory as this official may see it, oldest first, filtered before the limit is applied; read a page
    at a time (state and originator filtered in the store), until `limit` are found or SCAN_LIMIT looked at."""
    everything = sees_everything(actor)
    wanted: list[ItemRecord] = []
    after: tuple[datetime, str] | None = None
    for _ in range(SCAN_LIMIT // SCAN_BATCH):
        with node.store.unit_of_work(readonly=True) as uow:
            page = uow.items.page(after, SCAN_BATCH, state=state, originator=originator)
        wanted += [i for i in page if (topic is None or topic in i.topics)
                   and (everything or read_decision(node, actor, i).allowed)]
        if len(wanted) >= limit or len(page) < SCAN_BATCH:
            break
        after = page[-1].created_at, page[-1].id
    return wanted[:limit]


def visible_item(node: Node, actor: Actor, item_id: str, action: str) -> ItemRecord:
    """One item, if this official may see it; a refusal carries the policy's rules and is audited."""
    with node.store.unit_of_work(readonly=True) as uow:
        item = uow.items.get(item_id)
    if item is None:
        raise NotFound(f"unknown item {item_id!r}")
    if not sees_everything(actor):
        decision = read_decision(node, actor, item)
        if not decision.allowed:
            audit.record_decision(node, actor, action, item.id, decision)
            raise PermissionDenied(" ".join(decision.reasons), rules=decision.rules, reasons=decision.reasons)
    return item


def visible_history(node: Node, actor: Actor, item_id: str) -> list[ItemEvent]:
    """Custody and distribution history (R6.f) of an item this official may see."""
    item = visible_item(node, actor, item_id, "item.history")
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.items.events(item.id)
