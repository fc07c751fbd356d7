"""`/v1/health` (anonymous, no data) and `/v1/whoami`."""

from __future__ import annotations

from fastapi import APIRouter

from gsomia.api import schemas, views
from gsomia.api.auth import ActorDep
from gsomia.api.errors import responses

API_VERSION = "1"

router = APIRouter(prefix="/v1", tags=["node"])


@router.get("/health", response_model=schemas.Health)
async def health() -> schemas.Health:
    """Liveness only: the one route open without a token, so it says nothing about the node."""
    return schemas.Health(status="ok", api=API_VERSION)


@router.get("/whoami", response_model=schemas.WhoAmI, responses=responses())
def whoami(actor: ActorDep) -> schemas.WhoAmI:
    """The official the token belongs to, as the register holds them (R6.e, R7.2)."""
    return views.whoami(actor)
