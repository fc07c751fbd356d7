"""The gsomia release rule written as an equivalent Cedar policy, for the benchmark and a differential test.

Cedar cannot compute an agreement's life or equivalence table, so the facts it needs about the
governing agreement (in force, direct path, highest tier, scope) are precomputed into the context:
this gives Cedar less work than gsomia does, which only flatters Cedar's figure.
"""

from __future__ import annotations

import json
from typing import Any

import cedarpy

from gsomia.domain.catalog import Catalog
from gsomia.domain.requests import Request

RELEASE_POLICY = """
permit (principal, action == Action::"release", resource)
when {
  principal.active &&
  principal.roles.contains("releasing_official") &&
  principal.party == resource.originator &&
  principal.clearance_valid &&
  principal.clearance_tier >= resource.tier &&
  resource.topic_count > 0 &&
  principal.need_to_know.containsAll(resource.topics) &&
  resource.releasable.contains(context.recipient) &&
  resource.purpose != "" &&
  context.recipient != principal.party &&
  context.agreement_in_force &&
  context.agreement_direct &&
  resource.tier <= context.agreement_highest &&
  context.agreement_has_row &&
  (context.agreement_scope_all || context.agreement_scope.containsAll(resource.topics))
};
"""


def cedar_inputs(requests: list[Request], catalog: Catalog) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Cedar entities (one official and one item per request) and Cedar requests."""
    entities: list[dict[str, Any]] = []
    cedar_requests: list[dict[str, Any]] = []
    for i, r in enumerate(requests):
        s, item = r.subject, r.item
        entities.append({"uid": {"type": "Official", "id": f"o{i}"}, "parents": [], "attrs": {
            "active": s.status.value == "active", "roles": sorted(x.value for x in s.roles), "party": s.party,
            "clearance_valid": s.clearance_valid_at(r.at),
            "clearance_tier": int(catalog.schemes.level(s.clearance).tier),
            "need_to_know": sorted(s.need_to_know)}})
        entities.append({"uid": {"type": "Item", "id": f"i{i}"}, "parents": [], "attrs": {
            "originator": item.originator, "tier": int(catalog.schemes.level(item.classification).tier),
            "topics": sorted(item.topics), "topic_count": len(item.topics),
            "releasable": sorted(item.releasable_to), "purpose": item.purpose}})
        cedar_requests.append({"principal": {"type": "Official", "id": f"o{i}"},
                               "action": {"type": "Action", "id": "release"},
                               "resource": {"type": "Item", "id": f"i{i}"},
                               "context": agreement_context(r, catalog)})
    return entities, cedar_requests


def agreement_context(r: Request, catalog: Catalog) -> dict[str, Any]:
    """Facts about the agreement that would govern the path, chosen the simple way: the first in force."""
    to = r.recipient or ""
    candidates = catalog.between(r.subject.party, to)
    chosen = next((a for a in candidates if catalog.status(a, r.at).in_force and a.is_direct(r.subject.party, to)
                   and a.row_for(r.item.classification) is not None), candidates[0] if candidates else None)
    if chosen is None:
        return {"recipient": to, "agreement_in_force": False, "agreement_direct": False, "agreement_highest": 0,
                "agreement_has_row": False, "agreement_scope_all": False, "agreement_scope": []}
    return {"recipient": to, "agreement_in_force": catalog.status(chosen, r.at).in_force,
            "agreement_direct": chosen.is_direct(r.subject.party, to), "agreement_highest": int(chosen.highest_tier),
            "agreement_has_row": chosen.row_for(r.item.classification) is not None
            and chosen.equivalent(r.item.classification, to) is not None,
            "agreement_scope_all": chosen.scope_topics is None, "agreement_scope": sorted(chosen.scope_topics or ())}


class CedarRelease:
    """Pre-parsed Cedar policy set and entities, so each call measures evaluation, not parsing."""

    def __init__(self, requests: list[Request], catalog: Catalog) -> None:
        entities, self.requests = cedar_inputs(requests, catalog)
        self.policies = cedarpy.PolicySet.from_str(RELEASE_POLICY)
        self.entities = cedarpy.Entities.from_json_str(json.dumps(entities))

    def decide_one(self, index: int) -> bool:
        result = cedarpy.is_authorized(self.requests[index], self.policies, self.entities)
        return bool(result.allowed)

    def decide_batch(self, indices: range) -> list[bool]:
        batch = [self.requests[i] for i in indices]
        return [bool(res.allowed) for res in cedarpy.is_authorized_batch(batch, self.policies, self.entities)]
