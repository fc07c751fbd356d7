"""Limits at the edge (api/limits.py): nothing is read for a stranger, no body past its route's limit,
texts made of Unicode scalar values without NUL; the API's documents behind a token, their assets local."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.helpers import Team, bearer

from gsomia.api import create_app
from gsomia.api.schemas import MAX_CONTENT
from gsomia.edge.limits import JSON_BODY, EdgeLimits, RouteLimits
from gsomia.services.context import Node


def call(app: Any, method: str, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, int]:
    """(status, how many body chunks the app asked for): a raw ASGI request, to see what was read."""
    asked = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if asked > len(chunks):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunks[asked - 1], "more_body": asked < len(chunks)}

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "https",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 443)}
    asyncio.run(app(scope, receive, send))
    return status, asked


def test_a_large_body_without_a_token_is_refused_before_a_byte_is_read(node: Node) -> None:
    app = create_app(node)
    huge = [b"x" * (1 << 20)] * 512  # 512 MB, had anyone read it
    assert call(app, "POST", "/v1/items", {"content-type": "application/json"}, huge) == (401, 0)
    declared = {"content-type": "application/json", "content-length": str(512 << 20), "authorization": "Bearer x"}
    assert call(app, "POST", "/v1/items", declared, huge) == (413, 0)


def test_a_body_growing_past_its_routes_limit_is_cut_off(node: Node, team: Team) -> None:
    app = create_app(node)
    headers = {"content-type": "application/json", **bearer(team.officer)}
    status, asked = call(app, "POST", "/v1/officials", headers, [b"{" + b" " * 8192] * 100)
    assert status == 413 and asked * 8193 <= JSON_BODY + 8193  # stopped at the limit, not at the end
    status, asked = call(app, "POST", "/v1/items", headers, [b" " * (1 << 20)] * ((MAX_CONTENT >> 20) * 2))
    assert status == 413  # an item's content may be larger, but not without bound


@pytest.mark.parametrize("text", ["\ud800 lone surrogate", "a NUL \x00 inside"])
def test_texts_must_be_unicode_scalar_values_without_nul(client: TestClient, team: Team, text: str) -> None:
    body = json.dumps({"classification": "KOR:II", "releasable_to": ["JPN"], "topics": ["dprk-missile"],
                       "purpose": text, "content_text": "x"})
    response = client.post("/v1/items", content=body.encode(), headers={**bearer(team.releaser),
                                                                         "content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert client.get("/v1/health").status_code == 200  # and the node is none the worse


def test_the_documents_need_a_token_unless_opened_and_their_assets_are_local(node: Node, team: Team) -> None:
    with TestClient(create_app(node)) as closed:
        assert closed.get("/docs").status_code == 401 and closed.get("/openapi.json").status_code == 401
        page = closed.get("/docs", headers=bearer(team.officer))
        assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
        assert "cdn" not in page.text.lower()
    opened = replace(node, settings=node.settings.model_copy(update={"api_docs_open": True}))
    with TestClient(create_app(opened)) as client:
        assert client.get("/openapi.json").status_code == 200
        script = client.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200 and len(script.content) > 100_000


FAR = "9999-12-31T23:59:59-23:59"  # a real instant, whose conversion to UTC overflows datetime


def test_instants_outside_1900_to_2200_are_refused_not_overflowed(client: TestClient, team: Team) -> None:
    officer = bearer(team.officer)
    appoint = client.post("/v1/officials", headers=officer, json={
        "name": "Far Future", "clearance": "KOR:II", "roles": ["reader"], "need_to_know": [], "expires": FAR,
        "reason": "test"})
    assert appoint.status_code == 422 and "1900..2200" in appoint.text
    consent = client.post("/v1/consents", headers=officer, json={"to": "JPN", "topics": ["dprk-missile"],
                                                                  "until": FAR, "purpose": "p"})
    assert consent.status_code == 422 and "1900..2200" in consent.text
    for at in (FAR, "0001-01-01T00:00:00+23:59"):
        listed = client.get("/v1/agreements", params={"at": at}, headers=officer)
        assert listed.status_code == 422 and "1900..2200" in listed.text, listed.text
        decided = client.post("/v1/decide", headers=officer, json={
            "action": "release", "at": at, "subject": {"party": "KOR", "clearance": "KOR:II"},
            "item": {"originator": "KOR", "classification": "KOR:II", "releasable_to": ["JPN"]}, "recipient": "JPN"})
        assert decided.status_code == 422 and "1900..2200" in decided.text, decided.text
    assert client.get("/v1/health").status_code == 200


def test_a_body_that_does_not_arrive_in_time_is_refused_and_the_app_never_called() -> None:
    """A client that sends its headers and then trickles (here: nothing more) is answered 408 once body_seconds
    have passed; the request never reaches the application."""
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    async def stalled() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    edge = EdgeLimits(app, limits=RouteLimits(open=(re.compile(".*"),), body_seconds=0.05))
    scope = {"type": "http", "method": "POST", "path": "/peer/v1/batch", "headers": [(b"content-length", b"10")]}
    asyncio.run(edge(scope, stalled, send))
    assert reached == []
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 408
    assert b"too_slow" in b"".join(m.get("body", b"") for m in sent[1:])
