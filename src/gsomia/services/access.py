"""Who may use a records-keeping function. A refusal is a decision too, so it is audited."""

from __future__ import annotations

from gsomia.domain.officials import OfficialStatus, Role
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import PermissionDenied

RULE_REGISTER = "R6.e"  # the register of cleared officials: its keeper is the security officer


def require(node: Node, actor: Actor, action: str, subject: str | None, *roles: Role) -> None:
    """Raise PermissionDenied, after recording the refusal in its own transaction, unless allowed."""
    official = actor.official
    now = node.clock()
    reason = None
    if official.status is not OfficialStatus.ACTIVE:
        reason = f"official {official.id} is {official.status.value}"
    elif official.party != node.party:
        reason = f"official {official.id} belongs to {official.party}, not to this {node.party} node"
    elif not official.clearance_valid_at(now):
        reason = f"clearance of {official.id} expired"
    elif roles and not official.roles & set(roles):
        wanted = " or ".join(r.value for r in roles)
        reason = f"{action} needs the role {wanted}"
    if reason is None:
        return
    with node.store.unit_of_work() as uow:
        append(uow, now, [draft(actor, action, subject, rules=(RULE_REGISTER, "R7.1"), reasons=(reason,))])
    raise PermissionDenied(reason, rules=(RULE_REGISTER, "R7.1"), reasons=(reason,))
