"""`GET /metrics`: the node's metrics in Prometheus' text exposition format, for a security officer's token.

A scraper on a management network can read the same registry without a token on a port of its own
(`metrics_port`, off by default; gsomia/node.py). Not in the OpenAPI document: it is for a scraper, not an
official, and its format is Prometheus', not JSON.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from gsomia.api.auth import ActorDep, NodeDep
from gsomia.services.metrics_scrape import exposition

router = APIRouter(tags=["node"])


@router.get("/metrics", include_in_schema=False)
def metrics(node: NodeDep, actor: ActorDep) -> Response:
    """Counters, histograms and what the store holds now (services/metrics.py, services/metrics_scrape.py)."""
    return Response(exposition(node, actor), media_type=CONTENT_TYPE_LATEST)
