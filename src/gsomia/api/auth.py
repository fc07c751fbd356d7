"""Who is calling: `Authorization: Bearer <personal API token>` → the active official it belongs to.

`current_actor` is the dependency every route but /v1/health uses (and the federation router may
reuse): a missing header is a 401 without touching the store; a bad token is a 401 after
`officials.authenticate` has audited the failure (R7.2). One answer for every reason, so the
response leaks nothing about which tokens exist.

Later: X.509 client certificates for officials (mTLS, the certificate's subject bound to an
official id in the register) can sit beside the bearer token here, yielding the same Actor.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from gsomia.api.errors import MissingCredentials
from gsomia.services import officials
from gsomia.services.context import Actor, Node
from gsomia.services.errors import AuthenticationFailed
from gsomia.services.throttle import FailedAuthentications, TooManyFailures

VIA = "api"

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A personal API token (`gsomia officials token`), shown once when issued.")


async def node_of(request: Request) -> Node:
    """The node this app serves, set by create_app on app.state (never a module global).

    Dependencies that do no I/O are `async def`: FastAPI would run a plain `def` on a worker thread.
    """
    return cast(Node, request.app.state.node)


NodeDep = Annotated[Node, Depends(node_of)]


async def current_actor(request: Request, node: NodeDep,
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Actor:
    """The authenticated official, or AuthenticationFailed (401, `WWW-Authenticate: Bearer`).

    A token checked a moment ago is taken from the cache without I/O (services/token_cache.py);
    otherwise the register is asked on a worker thread, unless the caller's address has failed too
    often lately (429, services/throttle.py).
    """
    if credentials is None or not credentials.credentials.strip():
        raise MissingCredentials()
    token = credentials.credentials.strip()
    official = officials.recently_authenticated(node, token)
    if official is None:
        failures = cast(FailedAuthentications, request.app.state.failed_authentications)
        caller = request.client.host if request.client is not None else "unknown"
        official = await run_in_threadpool(officials.authenticate_from, node, token, caller, failures, via=VIA)
    request.state.official_id = official.id  # for the access log (api/observe.py)
    return Actor(official, VIA)


ActorDep = Annotated[Actor, Depends(current_actor)]


def vouch_for(node: Node, failures: FailedAuthentications) -> Callable[[str, str], Awaitable[bool]]:
    """What the edge asks before it reads a large body (edge/limits.py): is this bearer token good? The same
    authentication as `current_actor` (audited, throttled); the route's own check then finds it cached."""

    async def vouch(authorization: str, caller: str) -> bool:
        credentials = presented(authorization)
        if credentials is None:
            return False
        claimed, token = credentials
        official = officials.recently_authenticated(node, token)
        if official is None:
            try:
                official = await run_in_threadpool(officials.authenticate_from, node, token, caller, failures, via=VIA)
            except (AuthenticationFailed, TooManyFailures):
                return False
        return claimed is None or claimed == official.id

    return vouch


def presented(authorization: str) -> tuple[str | None, str] | None:
    """(the official id claimed, the token) of `Bearer <token>` (no id claimed) or of HTTP Basic with the
    official's id as user name and the personal token as password (RFC 7617: what TAXII clients send)."""
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return None, value
    if scheme.lower() != "basic" or not value or len(value) > 1024:
        return None
    try:
        user, colon, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return None
    return (user, password) if colon and user and password else None
