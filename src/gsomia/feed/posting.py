"""An official's batches posted over the feed protocol (what `gsomia feed post` does), beside pushes and pulls.

    client ──wss, `Authorization: Bearer <personal token>`──▶ {"role": "post", "node": <client name>}
    node ──▶ {"role": "post", "node": <node id>}, or closes 4403 (no valid token)
    client ──▶ {"label": {...}, "messages": [...]}  one text frame per batch: the fields of POST /v1/feed/tracks
    node ──▶ {"accepted": n, "streams": {stream: newest seq}}
           or {"error": {"code", "message", "rules", "reasons"}}  (codes as the officials' API names them)

The running node's `Admission.post` answers each batch (gsomia.feed.served): the token checked again, the
batch checked whole (services.feed_posts) and published by the one use case every way in calls
(services.feed.publish): the same originate decision, audit, stream ownership (G2) and label as an HTTP
post or a CoT event. Only the node that holds the live feed can sequence a stream and hand it on, so a
post is made to it rather than beside it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from gsomia.feed.errors import FeedError
from gsomia.feed.link import hello, parse_control
from gsomia.services.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ServiceError,
    StoreUnavailable,
)

# One posted batch (the decoded JSON document) → its answer.
Poster = Callable[[Any], Awaitable[dict[str, Any]]]

# The officials' API's error codes; a kind's most specific class decides (NotFound is InvalidInput too).
CODES: dict[type[ServiceError], str] = {NotFound: "not_found", Conflict: "conflict", InvalidInput: "invalid_input",
                                        AuthenticationFailed: "unauthenticated", PermissionDenied: "refused",
                                        StoreUnavailable: "store_unavailable"}


def error_answer(error: ServiceError) -> dict[str, Any]:
    """A refusal or bad input as the poster's answer: the decision's rules and reasons when the policy refused."""
    code = next((CODES[kind] for kind in type(error).__mro__ if kind in CODES), "invalid_input")
    rules = list(error.rules) if isinstance(error, PermissionDenied) else []
    reasons = list(error.reasons) if isinstance(error, PermissionDenied) else []
    return {"error": {"code": code, "message": str(error), "rules": rules, "reasons": reasons}}


async def serve_posts(ws: ServerConnection, node_id: str, poster: Poster) -> None:
    """Answer each posted batch in turn until the client closes."""
    await ws.send(hello("post", node_id, {}))
    async for data in ws:
        try:
            document = json.loads(data)
        except ValueError:
            answer = error_answer(InvalidInput("a post is one JSON object per text frame"))
        else:
            answer = await poster(document)
        await ws.send(json.dumps(answer))


class PostChannel:
    """The client's end of a post connection: `post` sends a batch and waits for its answer; `send` and
    `answer` apart let a sensor keep batches going while earlier ones are answered (answers come in order)."""

    def __init__(self, ws: ClientConnection, timeout_s: float) -> None:
        self._ws, self._timeout = ws, timeout_s

    async def send(self, document: Any) -> None:
        await self._ws.send(json.dumps(document))

    async def answer(self) -> dict[str, Any]:
        return parse_control(await asyncio.wait_for(self._ws.recv(), self._timeout))

    async def post(self, document: Any) -> dict[str, Any]:
        await self.send(document)
        return await self.answer()


@asynccontextmanager
async def post_channel(url: str, token: str, ssl_context: ssl.SSLContext | None, *,
                       name: str = "gsomia-cli", timeout_s: float = 10.0) -> AsyncIterator[PostChannel]:
    """A connection to post batches on (see `posting`, which raises the same errors)."""
    async with connect(url, ssl=ssl_context, compression=None, max_size=16 * 1024 * 1024, open_timeout=timeout_s,
                       additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.send(hello("post", name, {}))
        try:
            parse_control(await asyncio.wait_for(ws.recv(), timeout_s))
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == 4403:
                raise PostRefused(closed.rcvd.reason or "refused") from None
            raise
        yield PostChannel(ws, timeout_s)


@asynccontextmanager
async def posting(url: str, token: str, ssl_context: ssl.SSLContext | None, *,
                  name: str = "gsomia-cli", timeout_s: float = 10.0) -> AsyncIterator[Poster]:
    """The client's end: a connection on which each `await post(batch)` returns the node's answer.

    Raises OSError or TimeoutError (nothing listens there), `PostRefused` (no valid token: closed 4403) or
    `websockets.exceptions.ConnectionClosed` (the node went away)."""
    async with post_channel(url, token, ssl_context, name=name, timeout_s=timeout_s) as channel:
        yield channel.post


class PostRefused(FeedError):
    """The node did not admit the poster: no valid personal token."""
