"""The published OpenAPI spec, and schemathesis against it: for every operation, generated inputs, valid
and invalid (authenticated as the security officer, who may call everything), never get a 5xx, and every
response conforms to the spec (status code, content type, body schema).

Driven per operation through schemathesis' strategies rather than `schemathesis.pytest.from_fixture`,
whose lazy loader reads a pytest attribute (`Function._nodeid`) that pytest 9.2 no longer has.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.api.helpers import Team, bearer

from gsomia.api import create_app
from gsomia.api.app import ROUTERS
from gsomia.services.context import Node

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25  # per operation and mode: the whole module stays well under a minute on two cores
SERVED = ROUTERS  # as `gsomia serve` mounts them
# /metrics and /v1/ready are for scrapers and load balancers, outside the officials' API document (their tests:
# tests/federation/test_metrics.py, tests/federation/test_readiness.py).
OPERATIONS = sorted((method, route.path) for router in SERVED for route in router.routes
                    if isinstance(route, APIRoute) and route.include_in_schema for method in route.methods or ())


def served_app(node: Node) -> FastAPI:
    """The officials' API with the federation routes, as NodeServer builds it (no partner configured)."""
    return create_app(node)  # no feed: the feed routes answer 400 "serves no feed"


def test_the_spec_is_published_with_a_title_and_versioned_paths(node: Node) -> None:
    spec = served_app(node).openapi()
    assert spec["info"]["title"] == "gsomia officials' API" and spec["info"]["version"] == "1.0"
    assert "Bearer" in spec["info"]["description"]
    assert all(path.startswith("/v1/") for path in spec["paths"])
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    published = sorted((m.upper(), p) for p, ops in spec["paths"].items() for m in ops)
    assert published == OPERATIONS  # the fuzzing below covers every operation


@pytest.fixture(scope="module")
def api_schema(node: Node, team: Team) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", served_app(node), headers=bearer(team.officer))


@pytest.mark.slow
@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_error_and_responses_match_the_spec(api_schema: schemathesis.BaseSchema, team: Team,
                                                      method: str, path: str) -> None:
    operation = api_schema[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    headers = bearer(team.officer)

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
