"""The agreements this node enforces (R21: their life) and the policy's what-if (`gsomia decide`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query

from gsomia.api import schemas, views
from gsomia.api.auth import ActorDep, NodeDep
from gsomia.api.errors import responses
from gsomia.domain.agreements import Agreement
from gsomia.domain.errors import DomainError, UnknownAgreement
from gsomia.domain.parsing import request_from_dict
from gsomia.domain.policy import decide as policy_decide
from gsomia.domain.policy import decide_many
from gsomia.domain.timeutil import parse_instant
from gsomia.services.context import Node
from gsomia.services.errors import NotFound

router = APIRouter(prefix="/v1", tags=["agreements"])

At = Annotated[str | None, Query(max_length=64, description="ISO 8601 time with a zone, or a date (its midnight "
                                                            "UTC), as `gsomia agreements --at` takes; default: now.")]
MAX_WHAT_IFS = 1000


def _agreement(node: Node, agreement_id: str) -> Agreement:
    try:
        return node.catalog.agreement(agreement_id)
    except UnknownAgreement as unknown:
        raise NotFound(str(unknown)) from None


def _at(node: Node, at: str | None) -> datetime:
    return node.clock() if at is None else parse_instant(at)


@router.get("/agreements", response_model=list[schemas.AgreementWithStatus], responses=responses(400))
def list_agreements(node: NodeDep, actor: ActorDep, at: At = None) -> list[schemas.AgreementWithStatus]:
    """Every agreement, with its condition at `at` (R21.1 entry into force, R21.4 termination)."""
    when = _at(node, at)
    return [views.agreement_with_status(a, node.catalog.status(a, when)) for a in node.catalog.agreements]


@router.get("/agreements/{agreement_id}", response_model=schemas.AgreementOut, responses=responses(404))
def show_agreement(node: NodeDep, actor: ActorDep, agreement_id: str) -> schemas.AgreementOut:
    """One agreement in full: parties, scope, equivalence table (R6.c), paths and relays (T4, T5), life."""
    return views.agreement(_agreement(node, agreement_id))


@router.get("/agreements/{agreement_id}/status", response_model=schemas.StatusOut, responses=responses(400, 404))
def agreement_status(node: NodeDep, actor: ActorDep, agreement_id: str, at: At = None) -> schemas.StatusOut:
    """The agreement's condition at a time (Art. 21): not yet in force, in force (notice pending or
    suspended), terminated; with its term, notice deadline and notices."""
    return views.status(node.catalog.status(_agreement(node, agreement_id), _at(node, at)))


PolicyRequests = Annotated[
    schemas.PolicyRequest | Annotated[list[schemas.PolicyRequest], Body(max_length=MAX_WHAT_IFS)],
    Body(description="One request as `gsomia decide` reads it, or a list of them."),
]


@router.post("/decide", response_model=schemas.DecisionOut | list[schemas.DecisionOut], responses=responses(400))
def decide(node: NodeDep, actor: ActorDep, body: PolicyRequests) -> schemas.DecisionOut | list[schemas.DecisionOut]:
    """Would this be allowed, and why? The policy's decision with its rules and reasons (default deny,
    G0); a what-if changes nothing and is not audited."""
    if isinstance(body, schemas.PolicyRequest):
        request = request_from_dict(body.model_dump(exclude_unset=True), node.catalog)
        return schemas.DecisionOut.model_validate(policy_decide(request, node.catalog).to_dict())
    requests = []
    for number, one in enumerate(body, start=1):
        try:
            requests.append(request_from_dict(one.model_dump(exclude_unset=True), node.catalog))
        except DomainError as bad:
            raise DomainError(f"request {number}: {bad}") from None
    return [schemas.DecisionOut.model_validate(d.to_dict()) for d in decide_many(requests, node.catalog)]
