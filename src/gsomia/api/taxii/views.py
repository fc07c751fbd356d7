"""The TAXII 2.1 endpoints (OASIS TAXII Version 2.1, OS, 10 June 2021), under /taxii2/ on the officials'
API port; each view cites the section it implements. The use cases are services.taxii (collections,
adding objects) and services.taxii_listing (objects, manifest, versions); nothing here decides.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import timezone
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from gsomia.api.taxii.auth import ActorDep, NodeDep
from gsomia.api.taxii.media import TAXII_MEDIA_TYPE, NotAcceptable, TaxiiResponse, UnsupportedMediaType, accepts_taxii
from gsomia.edge.limits import MAX_ITEM_CONTENT
from gsomia.services import taxii, taxii_listing, taxii_tracks
from gsomia.services.context import Actor, Node
from gsomia.services.errors import InvalidInput, NotFound
from gsomia.services.feed import LiveFeed
from gsomia.services.stix import STIX_MEDIA_TYPE
from gsomia.services.taxii_cursor import Filters, parse_timestamp

API_ROOT = "api"
MAX_ENVELOPE = MAX_ITEM_CONTENT * 4 // 3 + 64 * 1024  # bytes of a POSTed envelope (edge/limits.py enforces it)

router = APIRouter()
Text = Annotated[str | None, Query(max_length=4096)]
MatchVersion = Annotated[str | None, Query(alias="match[version]", max_length=4096)]
MatchSpecVersion = Annotated[str | None, Query(alias="match[spec_version]", max_length=64)]


def _check_accept(request: Request) -> None:
    if not accepts_taxii(request.headers.get("accept")):
        raise NotAcceptable(f"this endpoint answers in {TAXII_MEDIA_TYPE} only")


def _filters(ids: str | None, types: str | None, versions: str | None, spec_versions: str | None) -> Filters:
    def split(text: str | None) -> tuple[str, ...]:
        values = tuple(v.strip() for v in (text or "").split(",") if v.strip())
        if len(values) > 100:
            raise InvalidInput("a match[...] filter may name at most 100 values")
        return values

    return Filters(split(ids), split(types), split(versions) or ("last",), split(spec_versions))


@dataclass(frozen=True, slots=True)
class Paging:
    """A listing's added_after, limit and next (TAXII 2.1 §3.4), as every listing endpoint takes them."""

    added_after: str | None
    limit: int | None
    next: str | None


def _paging(added_after: Text = None, limit: Annotated[int | None, Query(ge=0)] = None,
            next: Text = None) -> Paging:  # noqa: A002 - TAXII's name
    return Paging(added_after, limit, next)


def _matching(match_id: Annotated[str | None, Query(alias="match[id]", max_length=8192)] = None,
              match_type: Annotated[str | None, Query(alias="match[type]", max_length=1024)] = None,
              match_version: MatchVersion = None,
              match_spec_version: MatchSpecVersion = None,
              ) -> Filters:
    """match[id|type|version|spec_version] (TAXII 2.1 §3.5), as the manifest and the objects take them."""
    return _filters(match_id, match_type, match_version, match_spec_version)


PagingDep = Annotated[Paging, Depends(_paging)]
MatchingDep = Annotated[Filters, Depends(_matching)]


def _headers(page: taxii_listing.Page) -> dict[str, str]:
    """X-TAXII-Date-Added-First and -Last (TAXII 2.1 §3.4.1): the first and last date_added of the page."""
    if not page.objects:
        return {}
    return {"X-TAXII-Date-Added-First": page.objects[0].date_added,
            "X-TAXII-Date-Added-Last": page.objects[-1].date_added}


def _envelope(page: taxii_listing.Page) -> dict[str, Any]:
    body: dict[str, Any] = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if page.objects:
        body["objects"] = [listed.stix_object for listed in page.objects]
    return body


async def _page(request: Request, node: Node, actor: Actor, collection_id: str, what: str, filters: Filters,
                paging: Paging) -> taxii_listing.Page:
    """A page of the collection: an agreement's items (on a worker thread: the store), or the feed's tracks."""
    after = parse_timestamp(paging.added_after) if paging.added_after else None
    limit = paging.limit if paging.limit and paging.limit > 0 else 100
    next_token = paging.next
    feed = cast(LiveFeed | None, request.app.state.feed)
    if feed is not None and collection_id == taxii.collection_id(taxii.MISSILE_WARNING):
        return await taxii_tracks.track_listing(node, feed, actor, collection_id, what=what, filters=filters,
                                                after=after, limit=limit, next_token=next_token)
    return await run_in_threadpool(functools.partial(
        taxii_listing.listing, node, actor, collection_id, what=what, filters=filters, after=after, limit=limit,
        next_token=next_token))


@router.get("/")
def discovery(request: Request, actor: ActorDep) -> TaxiiResponse:
    """Server Discovery (TAXII 2.1 §4.1): this node's one API root."""
    _check_accept(request)
    base = str(request.url.replace(query="")).rstrip("/")  # this view's own URL: …/taxii2
    return TaxiiResponse({"title": f"gsomia TAXII 2.1 server ({request.app.state.node.party})",
                          "description": "Items this node holds, as STIX 2.1, for the officials who may read them.",
                          "default": f"{base}/{API_ROOT}/", "api_roots": [f"{base}/{API_ROOT}/"]})


@router.get(f"/{API_ROOT}/")
def api_root(request: Request, node: NodeDep, actor: ActorDep) -> TaxiiResponse:
    """Get API Root Information (TAXII 2.1 §4.2)."""
    _check_accept(request)
    return TaxiiResponse({"title": f"{node.party} items", "versions": [TAXII_MEDIA_TYPE],
                          "max_content_length": MAX_ENVELOPE,
                          "description": "One collection per agreement in force to which this party belongs."})


@router.get(f"/{API_ROOT}/status/{{status_id}}/")
def status(request: Request, node: NodeDep, actor: ActorDep, status_id: str) -> TaxiiResponse:
    """Get Status (TAXII 2.1 §4.3): what a POST of objects did (§4.3.1), to the official who posted, from
    the store (any worker, after a restart)."""
    _check_accept(request)
    return TaxiiResponse(_status_resource(taxii.status_of(node, actor, status_id)))


@router.get(f"/{API_ROOT}/collections/")
def collections(request: Request, node: NodeDep, actor: ActorDep) -> TaxiiResponse:
    """Get Collections (TAXII 2.1 §5.1): those this official may read or write."""
    _check_accept(request)
    found = taxii.collections(node, actor, feed=request.app.state.feed is not None)
    return TaxiiResponse({"collections": [_collection(c) for c in found]} if found else {})


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/")
def collection(request: Request, node: NodeDep, actor: ActorDep, collection_id: str) -> TaxiiResponse:
    """Get a Collection (TAXII 2.1 §5.2), can_read and can_write as they are for this official."""
    _check_accept(request)
    feed = request.app.state.feed is not None
    return TaxiiResponse(_collection(taxii.collection(node, actor, collection_id, feed=feed)))


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/manifest/")
async def manifest(request: Request, node: NodeDep, actor: ActorDep, collection_id: str, paging: PagingDep,
                   filters: MatchingDep) -> TaxiiResponse:
    """Get Object Manifests (TAXII 2.1 §5.3), paged (§3.4) and filtered (§3.5) like the objects."""
    _check_accept(request)
    page = await _page(request, node, actor, collection_id, "manifest", filters, paging)
    body: dict[str, Any] = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if page.objects:
        body["objects"] = [{"id": o.stix_object["id"], "date_added": o.date_added, "version": o.version,
                            "media_type": STIX_MEDIA_TYPE} for o in page.objects]
    return TaxiiResponse(body, headers=_headers(page))


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/")
async def objects(request: Request, node: NodeDep, actor: ActorDep, collection_id: str, paging: PagingDep,
                  filters: MatchingDep) -> TaxiiResponse:
    """Get Objects (TAXII 2.1 §5.4): an envelope (§3.7) of what this official may read, in date_added
    order, with added_after, limit and next paging (§3.4), match[id|type|version|spec_version] (§3.5)
    and the X-TAXII-Date-Added-First/Last headers."""
    _check_accept(request)
    page = await _page(request, node, actor, collection_id, "objects", filters, paging)
    return TaxiiResponse(_envelope(page), headers=_headers(page))


@router.post(f"/{API_ROOT}/collections/{{collection_id}}/objects/", status_code=202)
async def add_objects(request: Request, node: NodeDep, actor: ActorDep, collection_id: str) -> TaxiiResponse:
    """Add Objects (TAXII 2.1 §5.5): each report, with its marking and content, originated as an item
    through the policy (services.taxii.add_objects); answered with the status resource (§4.3.1)."""
    _check_accept(request)
    kind = request.headers.get("content-type", "").replace(" ", "").lower()
    if kind.split(";")[0] != "application/taxii+json" or "version=2.1" not in kind.split(";")[1:]:
        raise UnsupportedMediaType(f"send the envelope as {TAXII_MEDIA_TYPE}")
    try:
        envelope = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not a JSON envelope") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("objects"), list) or not envelope["objects"]:
        raise InvalidInput("the body must be an envelope: {\"objects\": [...]} with at least one object")
    done = await node.write(taxii.add_objects, node, actor, collection_id, envelope["objects"], str(uuid.uuid4()))
    return TaxiiResponse(_status_resource(done), status_code=202)


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
async def get_object(request: Request, node: NodeDep, actor: ActorDep, collection_id: str, object_id: str,
                     paging: PagingDep,
                     match_version: MatchVersion = None,
                     match_spec_version: MatchSpecVersion = None,
                     ) -> TaxiiResponse:
    """Get an Object (TAXII 2.1 §5.6): its versions selected by match[version] (default last)."""
    _check_accept(request)
    page = await _page(request, node, actor, collection_id, "objects",
                       _filters(object_id, None, match_version, match_spec_version), paging)
    if not page.objects and not page.more:
        raise NotFound(f"no object {object_id!r} in this collection for this official")
    return TaxiiResponse(_envelope(page), headers=_headers(page))


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/versions/")
async def versions(request: Request, node: NodeDep, actor: ActorDep, collection_id: str, object_id: str,
                   paging: PagingDep,
                   match_spec_version: MatchSpecVersion = None,
                   ) -> TaxiiResponse:
    """Get Object Versions (TAXII 2.1 §5.8): every version held (one: an item's latest)."""
    _check_accept(request)
    page = await _page(request, node, actor, collection_id, "manifest",
                       _filters(object_id, None, "all", match_spec_version), paging)
    if not page.objects and not page.more:
        raise NotFound(f"no object {object_id!r} in this collection for this official")
    body: dict[str, Any] = {"more": page.more, "versions": [o.version for o in page.objects]}
    if page.next:
        body["next"] = page.next
    return TaxiiResponse(body, headers=_headers(page))


def _collection(found: taxii.Collection) -> dict[str, Any]:
    """A collection resource (TAXII 2.1 §5.2.1)."""
    return {"id": found.id, "title": found.title, "alias": found.alias,
            "description": found.description,
            "can_read": found.can_read, "can_write": found.can_write, "media_types": [STIX_MEDIA_TYPE]}


def _status_resource(done: taxii.AddStatus) -> dict[str, Any]:
    """A status resource (TAXII 2.1 §4.3.1): complete, since objects are added before the answer."""
    def details(outcomes: tuple[taxii.Outcome, ...]) -> list[dict[str, str]]:
        return [{"id": o.stix_id, "version": o.version, "message": o.message} for o in outcomes]

    at = done.requested_at.astimezone(timezone.utc)
    return {"id": done.id, "status": done.status, "request_timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "total_count": len(done.successes) + len(done.failures) + len(done.pendings),
            "success_count": len(done.successes), "successes": details(done.successes),
            "failure_count": len(done.failures), "failures": details(done.failures),
            "pending_count": len(done.pendings), "pendings": details(done.pendings)}
