"""The published OpenAPI spec, and schemathesis against it: for every operation, generated inputs, valid
and invalid (authenticated as the security officer, who may call everything), never get a 5xx; every
response conforms to the spec (status code, content type, body schema); and no schema-valid input is
refused as malformed (400/422: schemathesis' positive-data check), so the schema states every check the
server makes on a request's shape (api/vocabulary.py).

The fuzzing runs against a running KOR node over TLS, serving its feed, with the USA configured as its
partner, so the feed's routes are exercised too.

Driven per operation through schemathesis' strategies rather than `schemathesis.pytest.from_fixture`,
whose lazy loader reads a pytest attribute (`Function._nodeid`) that pytest 9.2 no longer has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.api.helpers import bearer
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all

from gsomia.api import create_app
from gsomia.api.app import ROUTERS
from gsomia.demo.loopback import create_federation
from gsomia.services.context import Node

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
POSITIVE_CHECKS = [*CHECKS, positive_data_acceptance]
# Operations whose body is an opaque signed document: no schema can say which strings are a binding that
# verifies, so a schema-valid string that is not one is a 400 naming the problem (still no 5xx, and the
# refusal audited: tests/services/test_stanag4778.py).
OPAQUE_DOCUMENTS = {("POST", "/v1/items/stanag4778")}
# HTTP's framing headers belong to the HTTP server, not to the API: schemathesis adds random headers to a case,
# and a random `content-length: 5#` is refused by uvicorn (400, "Invalid HTTP request") before any route is
# reached, as any HTTP server must. They are left out of the generated cases.
FRAMING = {"content-length", "transfer-encoding", "host", "connection", "te", "trailer", "upgrade", "expect"}
EXAMPLES = 25  # per operation and mode: the whole module stays well under a minute on two cores
SERVED = ROUTERS  # as `gsomia serve` mounts them
# /metrics and /v1/ready are for scrapers and load balancers, outside the officials' API document (their tests:
# tests/federation/test_metrics.py, tests/federation/test_readiness.py).
OPERATIONS = sorted((method, route.path) for router in SERVED for route in router.routes
                    if isinstance(route, APIRoute) and route.include_in_schema for method in route.methods or ())


def test_the_spec_is_published_with_a_title_and_versioned_paths(node: Node) -> None:
    spec = create_app(node).openapi()
    assert spec["info"]["title"] == "gsomia officials' API" and spec["info"]["version"] == "1.0"
    assert "Bearer" in spec["info"]["description"]
    assert all(path.startswith("/v1/") for path in spec["paths"])
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    published = sorted((m.upper(), p) for p, ops in spec["paths"].items() for m in ops)
    assert published == OPERATIONS  # the fuzzing below covers every operation


@pytest.fixture(scope="module")
def kor_with_feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """A running KOR node serving its feed, with the USA as its configured partner (not running)."""
    specs = create_federation(tmp_path_factory.mktemp("openapi"), passphrase=PASSPHRASE, parties=("KOR", "USA"))
    kor = start(specs["KOR"])
    try:
        yield kor
    finally:
        stop_all({"KOR": kor})


@pytest.fixture(scope="module")
def live_schema(kor_with_feed: RunningNode) -> schemathesis.BaseSchema:
    document = kor_with_feed.client("officer").get("/openapi.json")
    assert document.status_code == 200, document.text
    return schemathesis.openapi.from_dict(document.json())


@pytest.mark.slow
@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_error_no_valid_input_refused_and_responses_match_the_spec(
        live_schema: schemathesis.BaseSchema, kor_with_feed: RunningNode, method: str, path: str) -> None:
    operation = live_schema[path][method]
    spec = kor_with_feed.spec
    call = {"base_url": spec.api_url, "headers": bearer(spec.tokens["officer"]), "verify": str(spec.root_certificate)}

    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def valid(case: schemathesis.Case[Any]) -> None:
        _without_framing(case)
        case.call_and_validate(checks=CHECKS if (method, path) in OPAQUE_DOCUMENTS else POSITIVE_CHECKS, **call)

    @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def invalid(case: schemathesis.Case[Any]) -> None:
        _without_framing(case)
        case.call_and_validate(checks=CHECKS, **call)

    valid()
    declared = operation.definition.raw
    if declared.get("parameters") or declared.get("requestBody"):  # else there is nothing to get wrong
        invalid()


def _without_framing(case: schemathesis.Case[Any]) -> None:
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() not in FRAMING}
