"""Request ids and the access log of the officials' API (an ASGI middleware, outermost but for errors).

Every request gets an id: the caller's `X-Request-ID` if it is a plain token (letters, digits, `._-`, up to
64), else a fresh one; it is answered in `X-Request-ID` and put in the logs' context (services/logs.py), so
every line logged while the request is handled carries it. When the request ends one line goes to the
`gsomia.access` logger: method, path (never the query string, which could hold a secret), status, duration
and the id of the official whose token was accepted (api/auth.py notes it). Never a header, a token or a body.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gsomia.services.logs import request_id

access_log = logging.getLogger("gsomia.access")
HEADER = b"x-request-id"
_PLAIN = re.compile(rb"[A-Za-z0-9._-]{1,64}")


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == HEADER), b"")
        rid = given.decode("ascii") if _PLAIN.fullmatch(given) else secrets.token_hex(8)
        # Not reset at the end: the error handler outside this middleware logs in the same context.
        request_id.set(rid)
        status, started = 500, time.perf_counter()

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode("ascii"))]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            state: dict[str, Any] = scope.get("state") or {}
            access_log.info("%s %s %d", scope["method"], scope["path"], status, extra={
                "method": scope["method"], "path": scope["path"], "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1e3, 3), "official": state.get("official_id")})
