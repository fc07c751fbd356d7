"""Missile warning: a live map of the region with the tracks the feed delivers to the signed-in official
(launch point, trajectory, predicted impact area), per that official's clearance and need-to-know.

The page draws the coastline on the server (`geo.base_map`); its script opens the WebSocket
`/console/missile/live`, which relays what the node's feed gives this official through the feed's own
reader gate (`services.feed.watch_tracks`: the same READ decision, counted into the audit trail as a
subscriber's). Each message says when it was observed and when the node relayed it, so the page shows the
latency of the last one. The socket is refused without a live session, from another origin, or without
the session's CSRF token; it closes when the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import cast

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from gsomia.console import geo, render
from gsomia.console.session import NodeDep, SessionDep, node_of, page_router, resume, same_origin
from gsomia.domain.labels import Label
from gsomia.domain.schemes import Schemes
from gsomia.domain.tracks import EndOfTrack, ImpactPrediction, LaunchEvent, Position, TrackMessage, TrackUpdate
from gsomia.services import console_sessions
from gsomia.services import feed as feed_use_cases
from gsomia.services.console_sessions import SignedIn

router = page_router()
live = APIRouter(include_in_schema=False)
SESSION_CHECK_S = 15.0  # how often an open map asks whether its session still stands


def _feed(connection: Request | WebSocket) -> feed_use_cases.LiveFeed | None:
    return cast(feed_use_cases.LiveFeed | None, getattr(connection.app.state, "feed", None))


@router.get("/missile", response_class=HTMLResponse)
def missile(request: Request, node: NodeDep, session: SessionDep) -> Response:
    feed = _feed(request)
    streams = feed_use_cases.visible_streams(node, feed, session.official) if feed is not None else []
    held = {m.stream: m.label for m in feed.newest_messages()} if feed is not None else {}
    labels = [held[s.stream] for s in streams if s.stream in held]
    return render.page(request, session, "missile.html", title="Missile warning", section="missile", labels=labels,
                       map=geo.base_map(), streams=streams, has_feed=feed is not None)


def track_json(node_schemes: Schemes, msg: TrackMessage) -> dict[str, object]:
    """A track message as the map draws it: where, what kind, its label's banner, and the times."""
    label: Label = msg.label
    out: dict[str, object] = {
        "stream": msg.stream, "seq": msg.seq, "kind": msg.kind, "originator": msg.originator, "sensor": msg.sensor,
        "time": msg.time, "stale": msg.stale, "relayed_at": time.time(),
        "classification": str(label.classification), "banner": label.banner(node_schemes),
        "tier": int(node_schemes.tier(label.classification)),
    }
    body = msg.body
    if isinstance(body, LaunchEvent | ImpactPrediction):
        out["point"] = _position(body.point)
        out["ce_m"] = body.error.ce_m
    if isinstance(body, ImpactPrediction):
        out["impact_time"] = body.impact_time
    if isinstance(body, TrackUpdate):
        out["position"] = _position(body.position)
        out["velocity"] = {"east": body.velocity.east, "north": body.velocity.north, "up": body.velocity.up}
    if isinstance(body, EndOfTrack):
        out["reason"] = body.reason
    return out


def _position(p: Position) -> dict[str, float]:
    return {"lat": p.lat, "lon": p.lon, "alt_m": p.alt_m}


@live.websocket("/missile/live")
async def tracks(websocket: WebSocket) -> None:
    session = await resume(websocket)
    if session is None or not same_origin(websocket) or not console_sessions.csrf_matches(
            session, websocket.query_params.get("csrf")):
        await websocket.close(code=4401, reason="sign in to the console first")
        return
    node, feed = node_of(websocket), _feed(websocket)
    await websocket.accept()
    if feed is None:
        await websocket.send_json({"error": "this node serves no missile-warning feed"})
        await websocket.close()
        return
    async with feed_use_cases.watch_tracks(node, feed, session.actor) as watch:
        relay = asyncio.ensure_future(_relay(websocket, watch, node.schemes))
        guard = asyncio.ensure_future(_guard(websocket, session))
        try:
            await asyncio.wait({relay, guard}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (relay, guard):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await task


async def _relay(websocket: WebSocket, watch: feed_use_cases.TrackWatch, schemes: Schemes) -> None:
    while True:
        batch = await watch.next()
        await websocket.send_json({"tracks": [track_json(schemes, m) for m in batch]})


async def _guard(websocket: WebSocket, session: SignedIn) -> None:
    """Ends the socket when the browser goes, or when its session no longer stands (re-read every while;
    watching is not activity: an unattended map is signed out by the idle timeout like any page)."""
    while True:
        try:
            await asyncio.wait_for(websocket.receive_text(), SESSION_CHECK_S)
        except TimeoutError:
            pass
        ended = await run_in_threadpool(console_sessions.resume, node_of(websocket), session.secret,
                                        touch=False)
        if not isinstance(ended, SignedIn):
            await websocket.close(code=4401, reason="the session has ended")
            return
