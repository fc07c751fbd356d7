"""What an official may read here, item by item, and why not the rest: the register keeper's review (R6.e).

A security officer asks before changing a clearance, when an official says they cannot read what they
should, or in a periodic review of the register. Each item this node holds (but destroyed ones) is put to
the policy's read decision for that official as the register holds them now: the same `decide` that every
read takes, so the answer is what a read would get at this instant, with its rules and reasons. The review
is audited, allowed or refused (who looked at whose access, and what it found); it opens no content and
records nothing against the items, since nothing was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gsomia.domain.officials import Role
from gsomia.services import access
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import InvalidInput, NotFound
from gsomia.services.items import DESTROYED
from gsomia.services.visibility import decide_read

MAX_ITEMS = 5000


@dataclass(frozen=True, slots=True)
class ItemAccess:
    """One item and the policy's read decision on it for the official under review."""

    item_id: str
    originator: str
    classification: str
    state: str
    allowed: bool
    rules: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessReview:
    official_id: str
    at: datetime
    items: tuple[ItemAccess, ...]
    complete: bool  # every item held was looked at (else only the oldest `limit`)

    @property
    def readable(self) -> int:
        return sum(1 for i in self.items if i.allowed)


def review(node: Node, actor: Actor, official_id: str, *, limit: int = 1000) -> AccessReview:
    """The read decision on each item held (the oldest `limit`, at most MAX_ITEMS) for `official_id`."""
    if not 1 <= limit <= MAX_ITEMS:
        raise InvalidInput(f"a review looks at 1 to {MAX_ITEMS} items, not {limit}")
    access.require(node, actor, "official.access-review", official_id, Role.SECURITY_OFFICER)
    at = node.clock()
    with node.store.unit_of_work(readonly=True) as uow:
        record = uow.officials.get(official_id)
        if record is None:
            raise NotFound(f"unknown official {official_id!r}")
        found = uow.items.find(None, limit + 1)
    complete = len(found) <= limit
    held = [item for item in found[:limit] if item.state != DESTROYED]
    decided = []
    for item in held:
        decision = decide_read(node, record.official, item, at)
        decided.append(ItemAccess(item.id, item.originator, item.classification, item.state, decision.allowed,
                                  decision.rules, decision.reasons))
    done = AccessReview(official_id, at, tuple(decided), complete)
    with node.store.unit_of_work() as uow:
        append(uow, at, [draft(actor, "official.access-review", official_id, rules=("R6.e",), reasons=(
            f"{done.readable} of {len(decided)} items held readable"
            + ("" if complete else f" (the oldest {limit} looked at)"),))])
    return done
