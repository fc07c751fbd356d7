"""What an official may see of the registry: a security officer everything (R6.f, the registry's keeper);
anyone else only the items the policy would let them read (R7.2 clearance and need-to-know): a label's
topics and purpose are themselves need-to-know. The policy's own `read` decision, never a rule of ours.

TODO(lead): a `services.items.visible_items` would let readers (who hold no registry role, so
`items.list_items` refuses them) list what they may read; until then readers get that 403.
"""

from __future__ import annotations

from gsomia.domain.labels import Label
from gsomia.domain.officials import Role
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request
from gsomia.services import audit
from gsomia.services.context import Actor
from gsomia.services.errors import PermissionDenied
from gsomia.services.items import ItemRecord
from gsomia.services.runtime import Node


def sees_everything(actor: Actor) -> bool:
    return Role.SECURITY_OFFICER in actor.official.roles


def read_decision(node: Node, actor: Actor, item: ItemRecord) -> Decision:
    label = Label.from_canonical(item.label_bytes, node.ctx.schemes)
    return decide(Request(Action.READ, node.ctx.clock(), actor.official, label, item_id=item.id), node.catalog)


def visible(node: Node, actor: Actor, item: ItemRecord) -> bool:
    return sees_everything(actor) or read_decision(node, actor, item).allowed


def require_visible(node: Node, actor: Actor, item: ItemRecord, action: str) -> None:
    """PermissionDenied with the policy's rules and reasons, the refusal audited, unless visible."""
    if sees_everything(actor):
        return
    decision = read_decision(node, actor, item)
    if not decision.allowed:
        audit.record_decision(node.ctx, actor, action, item.id, decision)
        raise PermissionDenied(" ".join(decision.reasons), rules=decision.rules, reasons=decision.reasons)
