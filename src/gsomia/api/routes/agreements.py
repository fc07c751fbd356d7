"""The agreements this node enforces (R21: their life) and the policy's what-if (`gsomia decide`)."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Annotated

from fastapi import APIRouter, Body, Query

from gsomia.api import schemas, views, what_if
from gsomia.api.auth import ActorDep, NodeDep
from gsomia.api.errors import responses
from gsomia.api.schemas import Day, Instant
from gsomia.domain.agreements import Agreement
from gsomia.domain.errors import DomainError, UnknownAgreement
from gsomia.domain.parsing import request_from_dict
from gsomia.domain.policy import decide as policy_decide
from gsomia.domain.policy import decide_many
from gsomia.services import agreement_events
from gsomia.services.context import Node
from gsomia.services.errors import NotFound

router = APIRouter(prefix="/v1", tags=["agreements"])

At = Annotated[Instant | Day | None, Query(description="ISO 8601 time with a zone, or a date (its midnight UTC), "
                                                       "as `gsomia agreements --at` takes; default: now.")]
MAX_WHAT_IFS = 1000


def _agreement(node: Node, agreement_id: str) -> Agreement:
    try:
        return node.catalog.agreement(agreement_id)
    except UnknownAgreement as unknown:
        raise NotFound(str(unknown)) from None


def _at(node: Node, at: datetime | date | None) -> datetime:
    if at is None:
        return node.clock()
    if isinstance(at, datetime):
        return at
    return datetime.combine(at, time.min, tzinfo=timezone.utc)


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


# --- the life of agreements as records (services/agreement_events.py) ----------------------------------


@router.post("/agreements/{agreement_id}/notices", status_code=201, response_model=schemas.AgreementEventOut,
             responses=responses(400, 403, 404))
async def record_notice(node: NodeDep, actor: ActorDep, agreement_id: str,
                        body: schemas.NoticeIn) -> schemas.AgreementEventOut:
    """The security officer records a notice of termination, its suspension, the lifting of a suspension or a
    withdrawal (R21.3): signed, audited, applied at once here and proposed to the other parties."""
    return views.agreement_event(await node.write(
        agreement_events.record_notice, node, actor, agreement_id, by=body.by, kind=body.kind, given=body.given,
        reference=body.reference, decided=body.decided, notice=body.notice))


@router.post("/agreements/{agreement_id}/amendments", status_code=201, response_model=schemas.AgreementEventOut,
             responses=responses(400, 403, 404))
async def record_amendment(node: NodeDep, actor: ActorDep, agreement_id: str,
                           body: schemas.AmendmentIn) -> schemas.AgreementEventOut:
    """The security officer records an amendment in force (R21.2): rows added to the equivalence table, or
    another highest level; applied at once here and proposed to the other parties."""
    return views.agreement_event(await node.write(
        agreement_events.record_amendment, node, actor, agreement_id, given=body.given, reference=body.reference,
        decided=body.decided, add_rows=body.add_rows, highest_tier=body.highest_tier))


@router.get("/agreements/{agreement_id}/events", response_model=list[schemas.AgreementEventOut],
            responses=responses(404))
def list_events(node: NodeDep, actor: ActorDep, agreement_id: str) -> list[schemas.AgreementEventOut]:
    """Every event of the agreement held here: recorded (ours), proposed, confirmed, rejected; with answers."""
    return [views.agreement_event(v) for v in agreement_events.events(node, actor, agreement_id)]


@router.get("/agreements/{agreement_id}/versions", response_model=schemas.VersionsOut, responses=responses(404))
def versions(node: NodeDep, actor: ActorDep, agreement_id: str) -> schemas.VersionsOut:
    """This node's version of the agreement (G5), and where each other party's, as it last told us, differs."""
    return views.versions(agreement_events.versions(node, actor, agreement_id))


@router.post("/agreement-events/{event_id}/confirm", response_model=schemas.AgreementEventOut,
             responses=responses(400, 403, 404, 409))
async def confirm_event(node: NodeDep, actor: ActorDep, event_id: str) -> schemas.AgreementEventOut:
    """The security officer confirms a partner's proposed event: applied here from now on."""
    return views.agreement_event(await node.write(agreement_events.confirm, node, actor, event_id))


@router.post("/agreement-events/{event_id}/reject", response_model=schemas.AgreementEventOut,
             responses=responses(400, 403, 404, 409))
async def reject_event(node: NodeDep, actor: ActorDep, event_id: str,
                       body: schemas.RejectIn) -> schemas.AgreementEventOut:
    """The security officer rejects a partner's proposed event; the reason goes back to its node."""
    return views.agreement_event(await node.write(agreement_events.reject, node, actor, event_id, body.reason))


PolicyRequests = Annotated[
    what_if.PolicyRequest | Annotated[list[what_if.PolicyRequest], Body(max_length=MAX_WHAT_IFS)],
    Body(description="One request as `gsomia decide` reads it, or a list of them."),
]


@router.post("/decide", response_model=what_if.DecisionOut | list[what_if.DecisionOut], responses=responses(400))
def decide(node: NodeDep, actor: ActorDep, body: PolicyRequests) -> what_if.DecisionOut | list[what_if.DecisionOut]:
    """Would this be allowed, and why? The policy's decision with its rules and reasons (default deny,
    G0); a what-if changes nothing and is not audited."""
    if isinstance(body, what_if.PolicyRequest):
        request = request_from_dict(body.model_dump(mode="json", exclude_unset=True), node.catalog)
        return what_if.DecisionOut.model_validate(policy_decide(request, node.catalog).to_dict())
    requests = []
    for number, one in enumerate(body, start=1):
        try:
            requests.append(request_from_dict(one.model_dump(mode="json", exclude_unset=True), node.catalog))
        except DomainError as bad:
            raise DomainError(f"request {number}: {bad}") from None
    return [what_if.DecisionOut.model_validate(d.to_dict()) for d in decide_many(requests, node.catalog)]
