"""`/v1/health` (liveness: anonymous, no data), `/v1/ready` (readiness: anonymous, the failing checks) and
`/v1/whoami`."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gsomia.api import schemas, views
from gsomia.api.auth import ActorDep, NodeDep
from gsomia.api.errors import responses
from gsomia.services import readiness

API_VERSION = "1"

router = APIRouter(prefix="/v1", tags=["node"])


@router.get("/health", response_model=schemas.Health)
async def health() -> schemas.Health:
    """Liveness only: the one route open without a token, so it says nothing about the node."""
    return schemas.Health(status="ok", api=API_VERSION)


@router.get("/ready", include_in_schema=False)
async def ready(request: Request, node: NodeDep) -> JSONResponse:
    """Readiness: store, keys and partners (services/readiness.py); 503 naming what fails. For load balancers
    and orchestrators, so open without a token and outside the officials' API document."""
    answer = await readiness.check(node, cast(readiness.PartnerProbe, request.app.state.partner_probe))
    return JSONResponse({"status": "ready" if answer.ready else "not ready", "checks": answer.checks},
                        status_code=200 if answer.ready else 503)


@router.get("/whoami", response_model=schemas.WhoAmI, responses=responses())
def whoami(actor: ActorDep) -> schemas.WhoAmI:
    """The official the token belongs to, as the register holds them (R6.e, R7.2)."""
    return views.whoami(actor)
