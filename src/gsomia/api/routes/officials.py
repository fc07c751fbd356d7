"""The register of cleared officials (R6.e, R7): only a security officer keeps it; every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from gsomia.api import schemas, views
from gsomia.api.auth import ActorDep, NodeDep
from gsomia.api.errors import responses
from gsomia.domain.officials import OfficialStatus
from gsomia.services import access_review, officials

router = APIRouter(prefix="/v1/officials", tags=["officials"])


@router.get("", response_model=list[schemas.OfficialOut], responses=responses(403))
def list_officials(node: NodeDep, actor: ActorDep,
                   state: Annotated[OfficialStatus | None, Query(alias="status")] = None) -> list[schemas.OfficialOut]:
    """The register (R6.e), optionally one status only."""
    return [views.official(r) for r in officials.list_officials(node, actor, state)]


@router.get("/{official_id}", response_model=schemas.OfficialDetail, responses=responses(403, 404))
def show_official(node: NodeDep, actor: ActorDep, official_id: str) -> schemas.OfficialDetail:
    """One official and the history of changes to their record (R6.e)."""
    return views.official_detail(officials.get(node, actor, official_id),
                                 officials.history(node, actor, official_id))


@router.get("/{official_id}/access", response_model=schemas.AccessReviewOut, responses=responses(400, 403, 404))
def review_access(node: NodeDep, actor: ActorDep, official_id: str,
                  limit: Annotated[int, Query(ge=1, le=access_review.MAX_ITEMS)] = 1000) -> schemas.AccessReviewOut:
    """What this official may read here, item by item, with the policy's rules and reasons for each refusal: the
    read decision every read would take now (R6.e review; audited, opens no content)."""
    done = access_review.review(node, actor, official_id, limit=limit)
    return schemas.AccessReviewOut(
        official_id=done.official_id, at=done.at, complete=done.complete, readable=done.readable,
        items=[schemas.ItemAccessOut(item_id=i.item_id, originator=i.originator, classification=i.classification,
                                     state=i.state, allowed=i.allowed, rules=list(i.rules), reasons=list(i.reasons))
               for i in done.items])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=schemas.OfficialOut,
             responses=responses(400, 403, 409))
def appoint(node: NodeDep, actor: ActorDep, body: schemas.AppointIn) -> schemas.OfficialOut:
    """Appoint an official with a national clearance of this node's party (R6.e, R7.2)."""
    record = officials.appoint(node, actor, name=body.name, clearance=body.clearance,
                               granted=body.granted or node.clock(), expires=body.expires,
                               need_to_know=body.need_to_know, roles=body.roles, reason=body.reason)
    return views.official(record)


@router.patch("/{official_id}", response_model=schemas.OfficialOut, responses=responses(400, 403, 404, 409))
def update(node: NodeDep, actor: ActorDep, official_id: str, body: schemas.UpdateIn) -> schemas.OfficialOut:
    """Change the fields given (R6.e, R7.2); `"expires": null` removes the expiry, leaving it out keeps it."""
    record = officials.update(
        node, actor, official_id, reason=body.reason, name=body.name, clearance=body.clearance,
        granted=body.granted, expires=body.expires if "expires" in body.model_fields_set else officials.KEEP,
        need_to_know=body.need_to_know, roles=body.roles)
    return views.official(record)


@router.post("/{official_id}/suspend", response_model=schemas.OfficialOut, responses=responses(400, 403, 404, 409))
def suspend(node: NodeDep, actor: ActorDep, official_id: str, body: schemas.Reason) -> schemas.OfficialOut:
    """Suspend an official: their tokens stop working at once (R7.1, R6.e)."""
    return views.official(officials.suspend(node, actor, official_id, reason=body.reason))


@router.post("/{official_id}/reinstate", response_model=schemas.OfficialOut,
             responses=responses(400, 403, 404, 409))
def reinstate(node: NodeDep, actor: ActorDep, official_id: str, body: schemas.Reason) -> schemas.OfficialOut:
    """Reinstate a suspended official; tokens must be issued again (R6.e)."""
    return views.official(officials.reinstate(node, actor, official_id, reason=body.reason))


@router.post("/{official_id}/revoke", response_model=schemas.OfficialOut, responses=responses(400, 403, 404, 409))
def revoke(node: NodeDep, actor: ActorDep, official_id: str, body: schemas.Reason) -> schemas.OfficialOut:
    """Revoke an official for good (R6.e); the last active security officer cannot be revoked."""
    return views.official(officials.revoke(node, actor, official_id, reason=body.reason))


@router.post("/{official_id}/tokens", status_code=status.HTTP_201_CREATED, response_model=schemas.TokenOut,
             responses=responses(400, 403, 404, 409))
def issue_token(node: NodeDep, actor: ActorDep, official_id: str, body: schemas.Reason) -> schemas.TokenOut:
    """A personal API token, shown in this response only; the node keeps its SHA-256 (R7.2)."""
    issued = officials.issue_token(node, actor, official_id, reason=body.reason)
    return schemas.TokenOut(official_id=issued.official_id, token=issued.token)
