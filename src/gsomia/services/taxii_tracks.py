"""The missile-warning collection of the TAXII server: the tracks the node's feed holds, as STIX 2.1.

The tracks come from the running feed through `services.feed.watch_tracks`, the same view of the feed the
console's map has: the replay buffer's history behind the feed's reader gate for this official (R7.2,
each stream's read decided by the policy and counted into the audit trail by the gate). Each stream then
becomes its STIX objects (services/stix_tracks.py), and each stream listed gets its own audit entry
(taxii.objects / taxii.manifest) with the policy's read decision.

Positions work as in the items' listings (taxii_cursor): a stream's objects are added when its newest
message was, in the order of stream names within one microsecond, each object its own date_added; a
stream that grows is re-listed with its newer version. The same cursor, filters and limits apply.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Request
from gsomia.domain.tracks import TrackMessage
from gsomia.services import taxii, taxii_listing
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.feed import LiveFeed, watch_tracks
from gsomia.services.stix import shared_objects
from gsomia.services.stix_tracks import stream_objects, track_extension_definition
from gsomia.services.taxii_cursor import BEFORE_ALL, ORIGIN, PER_INSTANT, Filters, Position
from gsomia.services.taxii_listing import MAX_LIMIT, Listed, Page

HISTORY_WAIT_S = 0.2  # an empty feed answers nothing: wait this long for its (empty) history, then list none
PER_STREAM = 8  # at most: marking, three locations, three relationships, observed-data


async def track_listing(node: Node, feed: LiveFeed, actor: Actor, wanted: str, *, what: str, filters: Filters,
                        after: Position | None, limit: int, next_token: str | None) -> Page:
    filters, after = taxii_listing.resume(node, actor, wanted, what, filters, after, next_token)
    await asyncio.to_thread(taxii.readable, node, actor, wanted, feed=True)
    async with watch_tracks(node, feed, actor) as watch:
        try:
            messages = await asyncio.wait_for(watch.next(), HISTORY_WAIT_S)
        except TimeoutError:
            messages = []
    entries = _entries(node, messages)
    after = after or BEFORE_ALL
    limit = max(1, min(limit, MAX_LIMIT))
    listed: list[Listed] = []
    streams: dict[str, TrackMessage] = {}
    more, last = False, after
    for position, stream, stix_object, newest in entries:
        if position <= after or not taxii_listing.matches(stix_object, position, filters):
            continue
        if len(listed) >= limit:
            more = True
            break
        listed.append(Listed(position, stix_object))
        last = position
        if newest is not None:
            streams[stream] = newest
    if streams:
        await node.write(_audit, node, actor, what, list(streams.values()))
    token = taxii_listing.next_cursor(node, actor, wanted, what, filters, last) if more else None
    return Page(tuple(listed), more, token)


def _entries(node: Node, messages: list[TrackMessage]) -> list[tuple[Position, str, dict[str, Any],
                                                                      TrackMessage | None]]:
    """Every object of the collection with its position, in order: shared objects, then each stream's."""
    found: list[tuple[Position, str, dict[str, Any], TrackMessage | None]] = []
    shared = [*shared_objects(sorted(node.schemes.parties)), track_extension_definition()]
    found += [(Position(ORIGIN, i), "", stix_object, None) for i, stix_object in enumerate(shared)]
    by_stream: dict[str, list[TrackMessage]] = defaultdict(list)
    for msg in messages:
        by_stream[msg.stream].append(msg)
    streams = []
    for stream, held in by_stream.items():
        try:
            objects = stream_objects(held, node.schemes)
        except ValueError:  # no position yet: nothing to show
            continue
        newest = max(held, key=lambda m: m.seq)
        at = datetime.fromtimestamp(newest.time, tz=timezone.utc)
        streams.append((at, stream, objects, newest))
    streams.sort(key=lambda s: (s[0], s[1]))
    group, rank = None, -1
    for at, stream, objects, newest in streams:
        group, rank = (group, rank + 1) if at == group else (at, 0)
        for i, stix_object in enumerate(objects):
            position = Position(at, min(rank * PER_STREAM + i, PER_INSTANT - 1))
            found.append((position, stream, stix_object, newest))
    return found


def _audit(node: Node, actor: Actor, what: str, newest: list[TrackMessage]) -> None:
    """One entry per stream listed: the policy's read decision, as the feed's gate took it."""
    at = node.clock()
    drafts = [draft(actor, f"taxii.{what}", msg.stream,
                    decide(Request(Action.READ, at, actor.official, msg.label, item_id=msg.stream), node.catalog))
              for msg in newest]
    with node.store.unit_of_work() as uow:
        append(uow, at, drafts)
