"""The console as a FastAPI sub-application, mounted at /console by the officials' API (api/app.py).

Security design, in one place:

- **Sign-in** with a personal token (`services.officials.authenticate`: a failure is audited, and counts
  towards the same per-address throttle as the API's). The session lives server-side
  (`services.console_sessions`, table console_sessions): the browser holds only its secret, in the cookie
  `__Host-gsomia-console` (HttpOnly, Secure, SameSite=Strict, Path=/, no Domain, no expiry: gone with the
  browser). Each request resumes the session: it ends when idle longer than `console_idle_timeout_s`,
  older than `console_session_max_s`, at sign-out, or as soon as its token is revoked or its official is
  no longer active or cleared (read from the register at every request).
- **CSRF**: every form carries the session's token (an HMAC of the session's secret), checked for every
  method but GET and HEAD by one dependency of every page router (`session.check_form`); a missing or
  wrong token is a 403, audited. The sign-in form, which has no session yet, carries a double-submit
  token (cookie `__Host-gsomia-sign-in` and a form field). A request whose Origin is another site is
  refused before anything else. The map's WebSocket checks Origin and the session's token.
- **Content Security Policy**: scripts, styles, images and connections only from the node itself; no
  inline script or style, no eval, no frames, no external origin (`SECURITY_HEADERS`). The scripts are
  the console's own, served from the package: the console works on an air-gapped network.
- **Classification banners**: every page shows, top and bottom, the banner of the highest classification
  on it (`render.banner`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gsomia.console import errors
from gsomia.console.pages import agreements, audit, exchange, home, items, missile, officials
from gsomia.services.context import Node
from gsomia.services.feed import LiveFeed
from gsomia.services.throttle import FailedAuthentications

BASE = "/console"
STATIC = Path(__file__).parent / "static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" with its POSTs, and the
    # console checks that a form comes from its own origin.
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"strict-transport-security", b"max-age=31536000"),
)


class SecurityHeaders:
    """Adds the console's security headers to every HTTP response it sends; pages are never cached
    (they carry classified metadata), the package's static files may be for a while."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(f"{BASE}/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers += SECURITY_HEADERS
                headers.append((b"cache-control", b"private, max-age=300" if static else b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_console(node: Node, *, track_feed: LiveFeed | None,
                   failures: FailedAuthentications) -> FastAPI:
    """The console over `node`; `failures` is the API's throttle of failed sign-ins, shared."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, title="gsomia console")
    app.state.node = node
    app.state.feed = track_feed
    app.state.failed_authentications = failures
    errors.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (home, agreements, items, exchange, officials, audit, missile):
        app.include_router(module.router)
    app.include_router(missile.live)  # the map's WebSocket: its own checks (a form dependency needs a Request)
    app.add_middleware(SecurityHeaders)
    return app
