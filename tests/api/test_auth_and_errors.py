"""Authentication (bearer tokens → officials.authenticate) and the one error shape for every failure."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from httpx2 import Response
from tests.api.helpers import Team, bearer, make_node

from gsomia.api import create_app, current_actor
from gsomia.services import audit, officials
from gsomia.services.context import Actor, Node
from gsomia.services.throttle import MAX_FAILURES, FailedAuthentications, TooManyFailures

ERROR_KEYS = {"code", "message", "rules", "reasons"}


def _error(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    assert body["error"]["code"] == code
    assert "Traceback" not in response.text
    return dict(body["error"])


def test_health_is_open_and_says_nothing_about_the_node(client: TestClient) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200 and response.json() == {"status": "ok", "api": "1"}


def test_every_other_route_needs_a_token(client: TestClient, team: Team) -> None:
    spec = client.get("/openapi.json", headers=bearer(team.officer)).json()
    for document in ("/openapi.json", "/docs"):  # the API's documents too, unless the settings open them
        _error(client.get(document), 401, "unauthenticated")
    checked = 0
    for path, operations in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method in operations:
            response = client.request(method.upper(), concrete, json={})
            if path == "/v1/health":
                assert response.status_code == 200
                continue
            _error(response, 401, "unauthenticated")
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="gsomia"'
            checked += 1
    assert checked >= 20


def test_a_bad_token_is_401_and_audited(client: TestClient, node: Node, team: Team) -> None:
    before = audit.entry_count(node)
    for headers in (bearer("gsomia_not-a-token"), {"Authorization": "Basic a2ltOnB3"}, bearer(" ")):
        response = client.get("/v1/whoami", headers=headers)
        _error(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="gsomia"')
    assert client.get("/v1/whoami", headers=bearer("gsomia_x")).headers["WWW-Authenticate"] == (
        'Bearer realm="gsomia", error="invalid_token"')
    officer = Actor(officials.authenticate(node, team.officer), "test")
    failures = [e for e in audit.tail(node, officer, 10) if e.action == "authenticate" and e.seq > before]
    assert failures and failures[0].via == "api" and failures[0].rules == ("R7.2",)


def test_R7_2_a_caller_failing_too_often_is_turned_away_without_growing_the_audit_trail(
        node: Node, team: Team) -> None:
    client = TestClient(create_app(node))  # its own app: its own failure counts
    assert client.get("/v1/whoami", headers=bearer(team.officer)).status_code == 200  # checked, so cached
    before = audit.entry_count(node)
    for n in range(MAX_FAILURES):
        _error(client.get("/v1/whoami", headers=bearer(f"gsomia_guess-{n}")), 401, "unauthenticated")
    for n in range(50):
        turned_away = client.get("/v1/whoami", headers=bearer(f"gsomia_more-{n}"))
        _error(turned_away, 429, "too_many_attempts")
    assert 1 <= int(turned_away.headers["Retry-After"]) <= 61
    officer = Actor(officials.authenticate(node, team.officer), "test")
    written = [e for e in audit.tail(node, officer, 200) if e.seq > before]
    assert [e.action for e in written].count("authenticate") == MAX_FAILURES  # the 50 refused cost nothing
    assert [e.action for e in written].count("authenticate.throttled") == 1
    assert client.get("/v1/whoami", headers=bearer(team.officer)).status_code == 200  # a token checked a moment ago


def test_failure_counts_slide_with_time() -> None:
    failures = FailedAuthentications(max_failures=3, window_s=1)
    for n in range(3):
        failures.admit("10.0.0.1", f"guess-{n}")  # each unknown credential takes a slot
    with pytest.raises(TooManyFailures):
        failures.admit("10.0.0.1", "guess-3")
    failures.admit("10.0.0.2", "guess-0")  # per address
    time.sleep(1.1)  # the one-second window slides past them
    failures.admit("10.0.0.1", "guess-4")


def test_R7_2_a_credential_known_at_an_address_keeps_working_while_the_address_is_throttled() -> None:
    failures = FailedAuthentications(max_failures=2, window_s=60)
    failures.admit("10.0.0.1", "good")
    failures.succeeded("10.0.0.1", "good")
    for guess in ("bad-1",):
        failures.admit("10.0.0.1", guess)
    with pytest.raises(TooManyFailures):
        failures.admit("10.0.0.1", "bad-2")
    failures.admit("10.0.0.1", "good")  # known there: looked up without a slot
    first, again = failures.refusals_to_audit("10.0.0.1"), failures.refusals_to_audit("10.0.0.1")
    assert first is not None and (first.count, first.first) == (1, True) and again is None  # aggregated


def test_R7_2_a_concurrent_burst_of_bad_tokens_gets_exactly_the_budget_and_a_valid_token_still_works(
        node: Node, team: Team) -> None:
    client = TestClient(create_app(node))  # its own app: its own failure counts
    assert client.get("/v1/whoami", headers=bearer(team.reader)).status_code == 200  # a first sign-in: one slot
    budget = MAX_FAILURES - 1
    before = audit.entry_count(node)
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda n: client.get("/v1/whoami", headers=bearer(f"gsomia_burst-{n}")).status_code,
                                 range(300)))
    assert statuses.count(401) == budget and statuses.count(429) == 300 - budget
    officer = Actor(officials.authenticate(node, team.officer), "test")
    written = [e for e in audit.tail(node, officer, 500) if e.seq > before]
    assert [e.action for e in written].count("authenticate") == budget
    assert 1 <= [e.action for e in written].count("authenticate.throttled") <= 2  # in aggregate
    time.sleep(1.1)  # past the token cache's second: the valid token is looked up again, without a slot
    assert client.get("/v1/whoami", headers=bearer(team.reader)).status_code == 200


def test_whoami(client: TestClient, team: Team) -> None:
    me = client.get("/v1/whoami", headers=bearer(team.reader)).json()
    assert (me["id"], me["roles"], me["need_to_know"], me["via"], me["clearance"]) == (
        team.reader_id, ["reader"], ["dprk-missile"], "api", "KOR:II")


def test_not_found_validation_and_bad_input_shapes(client: TestClient, team: Team) -> None:
    officer = bearer(team.officer)
    _error(client.get("/v1/items/KOR-nothing", headers=officer), 404, "not_found")
    _error(client.get("/v1/officials/OFF-nobody", headers=officer), 404, "not_found")
    _error(client.get("/v1/agreements/no-such-agreement", headers=officer), 404, "not_found")
    invalid = _error(client.post("/v1/officials", json={"name": "X"}, headers=officer), 422, "validation_error")
    assert any("clearance" in reason for reason in invalid["reasons"])
    _error(client.post("/v1/officials", content=b"{not json", headers={**officer, "Content-Type": "application/json"}),
           422, "validation_error")
    _error(client.get("/v1/audit/entries?limit=0", headers=officer), 422, "validation_error")
    _error(client.get("/v1/agreements?at=yesterday", headers=officer), 422, "validation_error")
    _error(client.delete("/v1/items", headers=officer), 405, "method_not_allowed")
    _error(client.get("/v1/nowhere", headers=officer), 404, "not_found")


def test_a_role_refusal_is_403(client: TestClient, team: Team) -> None:
    refused = _error(client.get("/v1/officials", headers=bearer(team.reader)), 403, "refused")
    assert "security_officer" in str(refused["message"])


def test_a_router_reuses_current_actor_and_a_crash_is_a_bare_500(node: Node, team: Team) -> None:
    extra = APIRouter()

    @extra.get("/v1/crash")
    def crash(actor: Annotated[Actor, Depends(current_actor)]) -> None:
        raise RuntimeError(f"secret detail for {actor.official.id}")

    app = create_app(node)
    app.include_router(extra)
    with TestClient(app, raise_server_exceptions=False) as client:
        _error(client.get("/v1/crash"), 401, "unauthenticated")
        crashed = client.get("/v1/crash", headers=bearer(team.officer))
        error = _error(crashed, 500, "internal")
        assert "secret" not in crashed.text and error["reasons"] == []


def test_a_write_arriving_while_the_node_shuts_down_is_a_503_to_retry(tmp_path: Path) -> None:
    stopping, team = make_node(tmp_path / "stopping")
    app = create_app(stopping)
    stopping.store.writer.close()  # what closing the node does first
    with TestClient(app) as client:
        refused = client.post("/v1/items/any/release", json={"to": "JPN"}, headers=bearer(team.releaser))
        _error(refused, 503, "store_unavailable")
        assert "shutting down" in refused.json()["error"]["message"]
    stopping.close()


def test_a_405_lists_every_method_the_path_answers(client: TestClient, team: Team) -> None:
    refused = client.delete("/v1/items", headers=bearer(team.officer))
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, POST"
