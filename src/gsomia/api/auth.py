"""Who is calling: `Authorization: Bearer <personal API token>` → the active official it belongs to.

`current_actor` is the dependency every route but /v1/health uses (and the federation router may
reuse): a missing header is a 401 without touching the store; a bad token is a 401 after
`officials.authenticate` has audited the failure (R7.2). One answer for every reason, so the
response leaks nothing about which tokens exist.

Later: X.509 client certificates for officials (mTLS, the certificate's subject bound to an
official id in the register) can sit beside the bearer token here, yielding the same Actor.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gsomia.api.errors import MissingCredentials
from gsomia.services import officials
from gsomia.services.context import Actor
from gsomia.services.runtime import Node

VIA = "api"

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A personal API token (`gsomia officials token`), shown once when issued.")


async def node_of(request: Request) -> Node:
    """The node this app serves, set by create_app on app.state (never a module global).

    Dependencies that do no I/O are `async def`: FastAPI would run a plain `def` on a worker thread.
    """
    return cast(Node, request.app.state.node)


NodeDep = Annotated[Node, Depends(node_of)]


def current_actor(node: NodeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                  ) -> Actor:
    """The authenticated official, or AuthenticationFailed (401, `WWW-Authenticate: Bearer`)."""
    if credentials is None or not credentials.credentials.strip():
        raise MissingCredentials()
    return Actor(officials.authenticate(node.ctx, credentials.credentials.strip(), via=VIA), VIA)


ActorDep = Annotated[Actor, Depends(current_actor)]
