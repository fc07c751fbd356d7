"""Who is signed in, and whether a form may be acted on: the dependencies every console route uses.

- `session_of`: the request's session resumed from its cookie (once per request), or None.
- `SessionDep`: a signed-in session, or NotSignedIn (the sign-in page, with the reason a session ended).
- `check_form`: a dependency of every page router (`page_router`): for every method but GET and HEAD, a
  request from another origin is refused, and the form's CSRF token must match the session's (the sign-in
  form's must match its double-submit cookie). A refusal is a 403 and, with a session, audited.
"""

from __future__ import annotations

import secrets
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from gsomia.services import console_sessions
from gsomia.services.console_sessions import Ended, SignedIn
from gsomia.services.context import Node

COOKIE = "__Host-gsomia-console"
SIGN_IN_COOKIE = "__Host-gsomia-sign-in"
SIGN_IN_PATH = "/sign-in"
CSRF_FIELD = "csrf"
SAFE_METHODS = ("GET", "HEAD")
COOKIE_FLAGS = "Path=/; Secure; HttpOnly; SameSite=Strict"


class NotSignedIn(Exception):
    """No live session: the sign-in page is shown (with why the session ended, when it just did)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "sign in with your personal token")
        self.reason = reason


class FormRefused(Exception):
    """A form the console will not act on: another origin, or no valid CSRF token."""


def node_of(connection: HTTPConnection) -> Node:
    return cast(Node, connection.app.state.node)


NodeDep = Annotated[Node, Depends(node_of)]


async def session_of(request: Request) -> SignedIn | None:
    if hasattr(request.state, "session"):
        return cast(SignedIn | None, request.state.session)
    found = await resume(request)
    request.state.session = found
    return found


async def resume(connection: HTTPConnection) -> SignedIn | None:
    """The session of this request's cookie; an ended one's reason is kept on the connection's state."""
    secret = connection.cookies.get(COOKIE)
    if not secret:
        return None
    result = await run_in_threadpool(console_sessions.resume, node_of(connection), secret)
    if isinstance(result, Ended):
        connection.state.ended = result.reason
        return None
    return result


async def signed_in(request: Request, session: Annotated[SignedIn | None, Depends(session_of)]) -> SignedIn:
    if session is None:
        raise NotSignedIn(getattr(request.state, "ended", None))
    return session


SessionDep = Annotated[SignedIn, Depends(signed_in)]


def same_origin(connection: HTTPConnection) -> bool:
    """False when the browser says the request comes from another origin (a cross-site form or socket)."""
    origin = connection.headers.get("origin")
    if origin is None:  # browsers send it with every POST and every WebSocket handshake; a tool may not
        return True
    scheme = "https" if connection.url.scheme in ("https", "wss") else "http"
    return origin == f"{scheme}://{connection.headers.get('host', '')}"


async def check_form(request: Request, session: Annotated[SignedIn | None, Depends(session_of)]) -> None:
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        await _refused(request, session, "a form sent from another origin (CSRF)")
    form = await request.form()
    presented = form.get(CSRF_FIELD)
    token = presented if isinstance(presented, str) else None
    if request.scope.get("path", "").endswith(SIGN_IN_PATH):
        expected = request.cookies.get(SIGN_IN_COOKIE)
        if not (token and expected and secrets.compare_digest(token.encode(), expected.encode())):
            raise FormRefused("The sign-in form's security token is missing or stale: load the page again.")
        return
    if session is None:
        raise NotSignedIn(getattr(request.state, "ended", None))
    if not console_sessions.csrf_matches(session, token):
        await _refused(request, session, "the form's security token (CSRF) is missing or wrong")


async def _refused(request: Request, session: SignedIn | None, reason: str) -> None:
    if session is not None:
        await run_in_threadpool(console_sessions.refuse_form, node_of(request), session,
                                f"console.form {request.method} {request.url.path}", reason)
    raise FormRefused(f"Refused: {reason}. Nothing was done.")


def page_router() -> APIRouter:
    """A router of console pages: none in the API's OpenAPI document, every form CSRF-checked."""
    return APIRouter(dependencies=[Depends(check_form)], include_in_schema=False)


def session_cookie(secret: str) -> str:
    return f"{COOKIE}={secret}; {COOKIE_FLAGS}"


def cleared(name: str) -> str:
    return f"{name}=; {COOKIE_FLAGS}; Max-Age=0"


def sign_in_cookie(token: str) -> str:
    return f"{SIGN_IN_COOKIE}={token}; {COOKIE_FLAGS}"
