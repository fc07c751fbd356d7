"""The item registry (R6.f) and the policy-checked handling of items (R7.2, R6.b, R4.5, R6.g, R6.h).

Every read, copy, destruction and reclassification goes through gsomia.services.handling, which asks
the policy and audits its decision, allowed or refused; a refusal is a 403 carrying its rules and reasons.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query, status

from gsomia.api import schemas, views
from gsomia.api.auth import ActorDep, NodeDep
from gsomia.api.errors import responses
from gsomia.domain.parsing import label_from_dict
from gsomia.services import handling, visibility
from gsomia.services.errors import InvalidInput

router = APIRouter(prefix="/v1/items", tags=["items"])

ItemState = Annotated[str | None, Query(pattern="^(held|released|destroyed)$")]


def _content(body: schemas.ItemIn) -> bytes:
    if (body.content_text is None) == (body.content_base64 is None):
        raise InvalidInput("give the content once: content_text or content_base64")
    if body.content_text is not None:
        return body.content_text.encode("utf-8")
    try:
        return base64.b64decode(body.content_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("content_base64 is not valid base64") from None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=schemas.ItemOut,
             responses=responses(400, 403))
async def originate(node: NodeDep, actor: ActorDep, body: schemas.ItemIn) -> schemas.ItemOut:
    """Originate an item of this party, labelled (R6.b purpose) and sealed at rest; registered (R6.f)."""
    label = label_from_dict({"originator": node.party, "classification": body.classification,
                             "releasable_to": body.releasable_to, "topics": body.topics, "purpose": body.purpose,
                             "rights_note": body.rights_note}, node.schemes, node.clock())
    return views.item(await node.write(handling.originate, node, actor, label, _content(body),
                                       location=body.location))


@router.get("", response_model=list[schemas.ItemOut], responses=responses(403))
def list_items(node: NodeDep, actor: ActorDep, state: ItemState = None,
               originator: Annotated[str | None, Query(max_length=8)] = None,
               topic: Annotated[str | None, Query(max_length=200)] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[schemas.ItemOut]:
    """The inventory (R6.f). A security officer sees every item; anyone else only the items the
    policy would let them read (R7.2)."""
    return [views.item(i) for i in visibility.visible_items(node, actor, state=state, originator=originator,
                                                            topic=topic, limit=limit)]


@router.get("/{item_id}", response_model=schemas.ItemDetail, responses=responses(403, 404))
def show_item(node: NodeDep, actor: ActorDep, item_id: str) -> schemas.ItemDetail:
    """One item's identification, custody and label: banner, dual marking (R4.4), STANAG 4774 structure.
    Only for those who may see it (R7.2; see gsomia.services.visibility); a refusal is audited."""
    return views.item_detail(visibility.visible_item(node, actor, item_id, "item.show"), node.schemes)


@router.get("/{item_id}/content", response_model=schemas.ContentOut, responses=responses(403, 404, 409))
def read(node: NodeDep, actor: ActorDep, item_id: str,
         purpose: Annotated[str | None, Query(max_length=500)] = None) -> schemas.ContentOut:
    """Read the content if cleared with need-to-know (R7.2) for the purpose it was provided for (R6.b);
    every attempt, allowed or refused, is audited.

    Not on the node's writer: the content is opened after the audit's commit, and opening a large item
    there would hold up every other write."""
    _, plaintext = handling.read(node, actor, item_id, purpose=purpose)
    return views.content(item_id, plaintext)


@router.post("/{item_id}/copies", status_code=status.HTTP_201_CREATED, response_model=schemas.ItemOut,
             responses=responses(400, 403, 404, 409))
async def copy(node: NodeDep, actor: ActorDep, item_id: str, body: schemas.CopyIn) -> schemas.ItemOut:
    """A reproduction or translation carrying the same markings (R4.5, Art. 16), recorded against its original."""
    return views.item(await node.write(handling.copy, node, actor, item_id, translate=body.translate,
                                       reason=body.reason))


@router.post("/{item_id}/destroy", response_model=schemas.DestroyOut, responses=responses(400, 403, 404, 409))
def destroy(node: NodeDep, actor: ActorDep, item_id: str, body: schemas.DestroyIn) -> schemas.DestroyOut:
    """Destroy by a method that prevents reconstruction; returns the signed certificate (R6.h, Art. 13).
    A partner's item's certificate also goes back to whoever provided it (queued for delivery).

    Not on the node's writer: the old page images are reclaimed after the commit, outside any batch."""
    certificate = handling.destroy(node, actor, item_id, method=body.method, reason=body.reason)
    return schemas.DestroyOut(item_id=item_id, certificate_base64=base64.b64encode(certificate).decode())


@router.post("/{item_id}/reclassify", response_model=schemas.ItemOut, responses=responses(400, 403, 404, 409))
async def reclassify(node: NodeDep, actor: ActorDep, item_id: str, body: schemas.ReclassifyIn) -> schemas.ItemOut:
    """Change the classification of an item of this party; every holder must be told in writing (R6.g)."""
    new = node.schemes.parse(body.classification)
    return views.item(await node.write(handling.reclassify, node, actor, item_id, new, reason=body.reason))


@router.get("/{item_id}/history", response_model=list[schemas.ItemEventOut], responses=responses(403, 404))
def history(node: NodeDep, actor: ActorDep, item_id: str) -> list[schemas.ItemEventOut]:
    """Custody and distribution history (R6.f): originated, released, receipts, copies, destruction.
    Only for those who may see the item (R7.2; see gsomia.services.visibility)."""
    return [views.item_event(e) for e in visibility.visible_history(node, actor, item_id)]
