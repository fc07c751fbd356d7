"""A stream's trajectory and impact area for GIS tools (GeoJSON, KML: domain/geo.py), for an official who may
read the stream: one read decision per label the stream's messages carry (R7.2, R6.b), audited allowed or
refused as `feed.export`, before anything of the stream is drawn. The messages come from the running feed's
replay buffer (the API) or the node's replay store (the CLI), whichever holds them (`services.feed.HeldTracks`)."""

from __future__ import annotations

import json
from typing import Literal

from gsomia.domain import geo
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Request
from gsomia.domain.tracks import TrackMessage
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import NotFound
from gsomia.services.exchange_common import refused
from gsomia.services.feed import HeldTracks, registered

Format = Literal["geojson", "kml"]


def readable_stream(node: Node, history: HeldTracks, actor: Actor, stream: str) -> list[TrackMessage]:
    """The stream's messages, if `actor` (as the register holds them now) may read every label they carry."""
    messages = history.stream_messages(stream)
    if not messages:
        raise NotFound(f"no stream {stream} is held here")
    official = registered(node, [actor.official])[actor.official.id]
    at = node.clock()
    labels = {m.digest: m.label for m in messages}
    decisions = [decide(Request(Action.READ, at, official, label, item_id=stream, purpose=label.purpose),
                        node.catalog) for label in labels.values()]
    decision = next((d for d in decisions if not d.allowed), decisions[0])
    with node.store.unit_of_work() as uow:
        append(uow, at, [draft(actor, "feed.export", stream, decision)])
    if not decision.allowed:
        raise refused(decision)
    return messages


def export(node: Node, history: HeldTracks, actor: Actor, stream: str, fmt: Format) -> bytes:
    """The stream as a GeoJSON or KML document (UTF-8), marked with its label's banner."""
    messages = readable_stream(node, history, actor, stream)
    banner = messages[-1].label.banner(node.schemes)
    if fmt == "kml":
        return geo.kml(stream, messages, banner)
    return json.dumps(geo.geojson(stream, messages, banner), ensure_ascii=False).encode()


def media_type(fmt: Format) -> str:
    return geo.KML_MEDIA_TYPE if fmt == "kml" else geo.GEOJSON_MEDIA_TYPE
