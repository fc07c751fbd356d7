"""Limits at the edge, before anything is parsed or any account is touched (a plain ASGI middleware).

For each request, before the application sees it:
- a route that needs a token and was sent none is answered 401 at once, its body never read: a
  stranger gets no memory spent on it; on a route that takes large bodies (over JSON_BODY), the token
  itself is checked first (`vouch`, given by the application), so a bad one is refused unread too;
- the body may not exceed its route's limit (`RouteLimits`: small for JSON, a configured maximum
  for item content): a declared Content-Length over it is answered 413 before a byte is read, and a
  body that grows past it as it arrives (chunked, or a lying Content-Length) is cut off with 413;
- the body must arrive within `body_seconds` of the request's start (a slow client is timed out: 408);
- a JSON body may hold only Unicode scalar values and no NUL: a lone surrogate (`"\\ud800"`) or a NUL
  anywhere — keys included — is a 422 naming the problem, before any handler can trip over it.

The application then reads the body from memory, already bounded and checked.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
JSON_BODY = 64 * KIB  # every JSON request of the API fits in this but the ones listed in RouteLimits.larger
MAX_ITEM_CONTENT = 16 * KIB * KIB  # bytes of an item's content in one request (API or console upload)


@dataclass(frozen=True)
class RouteLimits:
    """The body limit of each route (`larger` matched in order on "METHOD path"), and the routes open
    without a token (`open`: matched on the path)."""

    default: int = JSON_BODY
    larger: tuple[tuple[re.Pattern[str], int], ...] = ()
    open: tuple[re.Pattern[str], ...] = field(default_factory=tuple)
    body_seconds: float = 30.0

    def limit(self, method: str, path: str) -> int:
        key = f"{method} {path}"
        return next((size for pattern, size in self.larger if pattern.fullmatch(key)), self.default)

    def needs_token(self, path: str) -> bool:
        return not any(pattern.fullmatch(path) for pattern in self.open)


# (Authorization header, caller's address) → whether the credential is good: asked before a large body is read.
Vouch = Callable[[str, str], Awaitable[bool]]


class EdgeLimits:
    def __init__(self, app: ASGIApp, limits: RouteLimits, vouch: Vouch | None = None) -> None:
        self.app, self.limits, self.vouch = app, limits, vouch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        if self.limits.needs_token(path) and not headers.get("authorization", "").strip():
            await _refuse(send, 401, "unauthenticated", "send Authorization: Bearer <token>",
                          {"www-authenticate": 'Bearer realm="gsomia"'})
            return
        limit = self.limits.limit(method, path)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, 413, "too_large", f"this request's body may hold at most {limit} bytes")
            return
        if limit > JSON_BODY and self.vouch is not None and self.limits.needs_token(path):
            caller = str((scope.get("client") or ("unknown",))[0])
            if not await self.vouch(headers.get("authorization", ""), caller):
                await _refuse(send, 401, "unauthenticated", "authentication failed: unknown, revoked or inactive"
                              " token", {"www-authenticate": 'Bearer realm="gsomia", error="invalid_token"'})
                return
        try:
            async with asyncio.timeout(self.limits.body_seconds):  # in this task: no task of its own, no loop turn
                body = await _read_body(receive, limit)
        except _TooLarge:
            await _refuse(send, 413, "too_large", f"this request's body may hold at most {limit} bytes")
            return
        except TimeoutError:
            await _refuse(send, 408, "too_slow", f"the body did not arrive within {self.limits.body_seconds:g} s")
            return
        except _Disconnected:
            return
        if body and "json" in headers.get("content-type", ""):
            problem = text_problem(body)
            if problem is not None:
                await _refuse(send, 422, "validation_error", problem)
                return
        await self.app(scope, _replay(body, receive), send)


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, then whatever the connection says next (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def text_problem(body: bytes) -> str | None:
    """What is wrong with the texts of a JSON body (None if nothing is; malformed JSON is the parser's
    business, which answers 422 too)."""
    try:
        value = json.loads(body)
    except RecursionError:
        return "the JSON is nested too deeply"
    except ValueError:
        return None
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "a text holds a NUL character, which no field accepts"
            if _SURROGATE.search(item):
                return "a text holds a lone UTF-16 surrogate: texts must be Unicode scalar values"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


async def _refuse(send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "rules": [], "reasons": []}}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def api_limits(*, open_docs: bool) -> RouteLimits:
    """The officials' API: JSON bodies small, an item's content up to MAX_ITEM_CONTENT bytes (as base64 in
    JSON, or a file uploaded to the console, or in a TAXII envelope), a batch of tracks up to 1,000
    messages; /v1/health (and, if
    configured, the API's documents) and the console's pages (a session cookie, not a token) open without
    a token."""
    larger = ((re.compile(r"POST /v1/items"), MAX_ITEM_CONTENT * 4 // 3 + JSON_BODY),
              (re.compile(r"POST /v1/items/stanag4778"), MAX_ITEM_CONTENT * 4 // 3 + JSON_BODY),
              (re.compile(r"POST /console/items"), MAX_ITEM_CONTENT + JSON_BODY),
              (re.compile(r"POST /v1/feed/tracks"), 1024 * KIB),
              (re.compile(r"POST /taxii2/api/collections/[^/]+/objects/"), MAX_ITEM_CONTENT * 4 // 3 + JSON_BODY))
    docs = (re.compile(r"/docs(/.*)?"), re.compile(r"/openapi\.json")) if open_docs else ()
    return RouteLimits(larger=larger, open=(re.compile(r"/v1/health"), re.compile(r"/v1/ready"),
                                            re.compile(r"/console(/.*)?"), *docs))
