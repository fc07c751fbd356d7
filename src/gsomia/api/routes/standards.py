"""The field's formats on the officials' API: items as STANAG 4778 binding data objects (XML, the label in
STANAG 4774), out and back in; a stream's trajectory and impact area as GeoJSON (RFC 7946) or KML 2.2.

- `GET /v1/items/{item_id}/stanag4778`: the item's label and content bound by the node's signature; a read,
  decided and audited as `GET /v1/items/{item_id}/content` is (services.stanag4778.export_item).
- `POST /v1/items/stanag4778`: a binding data object checked whole (structure, digests, signature by a key
  this node trusts, the 4774 label mapped to ours) and its item originated here (the originate decision);
  a refused one is audited and answered 400 or 403 with the reason.
- `GET /v1/feed/streams/{stream}/geojson|kml`: one read decision per label of the stream, audited
  (`feed.export`), then the drawing, marked with the stream's banner (services.feed_geo).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, Field

from gsomia.api import schemas, views
from gsomia.api.auth import ActorDep, NodeDep
from gsomia.api.errors import responses
from gsomia.api.routes.feed import feed_of
from gsomia.services import feed_geo, stanag4778

router = APIRouter(tags=["standards"])

XML = "application/xml"
Stream = Annotated[str, Path(pattern="^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]


def _document(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {"schema": {"type": "string"}}}, "description": "The document."}}


class BindingIn(BaseModel):
    document: str = Field(min_length=1, description="A STANAG 4778 binding data object (XML), as exported.")


@router.get("/v1/items/{item_id}/stanag4778", response_class=Response,
            responses={**_document(XML), **responses(403, 404, 409)})
def export_4778(node: NodeDep, actor: ActorDep, item_id: str) -> Response:
    """The item as a STANAG 4778 binding data object: its 4774 label and content, signed by this node (R7.2)."""
    return Response(stanag4778.export_item(node, actor, item_id), media_type=XML)


@router.post("/v1/items/stanag4778", status_code=status.HTTP_201_CREATED, response_model=schemas.ItemOut,
             responses=responses(400, 403))
async def import_4778(node: NodeDep, actor: ActorDep, body: BindingIn) -> schemas.ItemOut:
    """Originate an item from a STANAG 4778 binding data object this node bound (label and content checked)."""
    return views.item(await node.write(stanag4778.import_object, node, actor, body.document.encode("utf-8")))


@router.get("/v1/feed/streams/{stream}/geojson", response_class=Response,
            responses={**_document(feed_geo.media_type("geojson")), **responses(400, 403, 404)})
def stream_geojson(request: Request, node: NodeDep, actor: ActorDep, stream: Stream) -> Response:
    """The stream's trajectory, launch point and impact area as a GeoJSON FeatureCollection (RFC 7946)."""
    body = feed_geo.export(node, feed_of(request), actor, stream, "geojson")
    return Response(body, media_type=feed_geo.media_type("geojson"))


@router.get("/v1/feed/streams/{stream}/kml", response_class=Response,
            responses={**_document(feed_geo.media_type("kml")), **responses(400, 403, 404)})
def stream_kml(request: Request, node: NodeDep, actor: ActorDep, stream: Stream) -> Response:
    """The same as KML 2.2, for Google Earth and GIS tools."""
    body = feed_geo.export(node, feed_of(request), actor, stream, "kml")
    return Response(body, media_type=feed_geo.media_type("kml"))
