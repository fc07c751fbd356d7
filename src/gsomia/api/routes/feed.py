"""The missile-warning feed on the officials' API: a sensor's or C2 system's batches in, the streams listed.

`POST /v1/feed/tracks` takes one label and up to 1,000 track messages (launch, update, impact, end:
the fields of `gsomia.domain.tracks`) and publishes them into the node's feed (`services.feed.publish`),
from where they go to subscribers and partners, each hop policy-checked. The first message of a stream
is an originate decision, audited (R7.2, R6.b); the stream then belongs to that official (whose
releasing role is what lets it go to partners, R6.e) and keeps its label. `GET /v1/feed/streams` lists
the streams the caller may read, with the newest sequence number of each (`services.feed.visible_streams`).

The composition root (gsomia/node.py) puts the node's running feed on `app.state.feed`.
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from gsomia.api.auth import ActorDep, NodeDep
from gsomia.api.errors import responses
from gsomia.api.schemas import In
from gsomia.api.vocabulary import OwnMarking, Party
from gsomia.domain.tracks import UNKNOWN_ERROR
from gsomia.services import feed as feed_use_cases
from gsomia.services import feed_posts
from gsomia.services.errors import InvalidInput

router = APIRouter(prefix="/v1/feed", tags=["feed"])

Stream = Annotated[str, Field(pattern="^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]


class LabelIn(In):
    classification: OwnMarking
    releasable_to: list[Party] = Field(max_length=10)
    topics: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=50)
    purpose: str = Field(min_length=1, max_length=2000)


class PositionIn(In):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_m: float = 0.0


class VelocityIn(In):
    east: float
    north: float
    up: float


class ErrorIn(In):
    ce_m: float = Field(default=UNKNOWN_ERROR, ge=0)
    le_m: float = Field(default=UNKNOWN_ERROR, ge=0)


class _TrackIn(In):
    stream: Stream
    seq: int | None = Field(None, ge=1, description="per stream from 1; omitted: the node numbers on")
    sensor: str = Field(min_length=1, max_length=100)
    time: float = Field(description="observation time, POSIX seconds")
    stale: float = Field(description="POSIX seconds after which the message no longer stands")
    error: ErrorIn = ErrorIn()


class LaunchIn(_TrackIn):
    kind: Literal["launch"]
    point: PositionIn = Field(description="where it was launched")


class UpdateIn(_TrackIn):
    kind: Literal["update"]
    position: PositionIn = Field(description="where the object is")
    velocity: VelocityIn


class ImpactIn(_TrackIn):
    kind: Literal["impact"]
    point: PositionIn = Field(description="the predicted point of impact")
    impact_time: float = Field(description="POSIX seconds")


class EndIn(_TrackIn):
    kind: Literal["end"]
    reason: str = Field("ended", max_length=200, description="e.g. impact, lost")


# One shape per kind, so that the schema says which fields each needs (services.feed_posts checks the same).
TrackIn = Annotated[LaunchIn | UpdateIn | ImpactIn | EndIn, Field(discriminator="kind")]


class BatchIn(In):
    label: LabelIn
    messages: list[TrackIn] = Field(min_length=1, max_length=1000)


class PublishedOut(BaseModel):
    accepted: int
    streams: dict[str, int] = Field(description="each stream's newest sequence number after this batch")


class StreamOut(BaseModel):
    stream: str
    originator: str
    newest_seq: int
    classification: str
    provider: str | None
    last_kind: str
    last_time: float


def feed_of(request: Request) -> feed_use_cases.LiveFeed:
    feed = getattr(request.app.state, "feed", None)
    if feed is None:
        raise InvalidInput("this node serves no feed")
    return cast(feed_use_cases.LiveFeed, feed)


@router.post("/tracks", response_model=PublishedOut, responses=responses(400, 403, 409))
async def publish_tracks(request: Request, node: NodeDep, actor: ActorDep, body: BatchIn) -> PublishedOut:
    """Publish a labelled batch of track messages from this node's sensor or C2 system (R7.2, R6.b, R6.e)."""
    feed = feed_of(request)
    # Checked whole by the services (as the feed protocol's posts are): a bad message refuses the batch.
    batch = feed_posts.batch_from_dict(node, body.model_dump())
    newest = await feed_use_cases.publish(node, feed, actor, batch.label, batch.tracks)
    return PublishedOut(accepted=len(body.messages), streams=newest)


@router.get("/streams", response_model=list[StreamOut], responses=responses(400))
async def list_streams(request: Request, node: NodeDep, actor: ActorDep) -> list[StreamOut]:
    """The streams this node holds that the caller may read (R7.2), with each one's newest number."""
    return [StreamOut.model_validate(s, from_attributes=True)
            for s in feed_use_cases.visible_streams(node, feed_of(request), actor.official)]
