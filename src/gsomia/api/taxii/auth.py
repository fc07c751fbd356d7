"""Who is calling the TAXII server: HTTP Basic (user name = the official's id, password = their personal
token: what taxii2-client and most TAXII clients send) or `Authorization: Bearer <token>`.

The same authentication as the rest of the API (officials.authenticate_from: audited failures, the
caller's address throttled, recent successes cached), through the channel "taxii". A Basic user name
that is not the token's official is refused and audited like a bad token.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from gsomia.api.auth import presented
from gsomia.services import officials, taxii
from gsomia.services.context import Actor, Node
from gsomia.services.errors import AuthenticationFailed
from gsomia.services.throttle import FailedAuthentications

VIA = taxii.VIA


async def taxii_node(request: Request) -> Node:
    return cast(Node, request.app.state.node)


NodeDep = Annotated[Node, Depends(taxii_node)]


async def taxii_actor(request: Request, node: NodeDep) -> Actor:
    credentials = presented(request.headers.get("authorization", ""))
    if credentials is None:
        raise AuthenticationFailed()  # nothing usable presented: Basic (official id, token) or Bearer
    claimed, token = credentials
    official = officials.recently_authenticated(node, token)
    if official is None:
        failures = cast(FailedAuthentications, request.app.state.failed_authentications)
        caller = request.client.host if request.client is not None else "unknown"
        official = await run_in_threadpool(officials.authenticate_from, node, token, caller, failures, via=VIA)
    if claimed is not None and claimed != official.id:
        await run_in_threadpool(taxii.refuse_user_name, node, claimed, official)
    return Actor(official, VIA)


ActorDep = Annotated[Actor, Depends(taxii_actor)]
