"""The API's logs as `gsomia serve` configures them: JSON lines, each request's lines carrying its id (echoed in
X-Request-ID), an access line per request; never a token or an item's content, even at debug level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.api.helpers import Team, bearer

from gsomia.api import create_app
from gsomia.services import logs
from gsomia.services.context import Node

SECRET_TEXT = "RV entry at 38.51N 132.07E, warhead separation confirmed"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("debug", "json", stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_with_request_ids_and_no_token_or_content(node: Node, team: Team, captured: io.StringIO) -> None:
    with TestClient(create_app(node)) as client:
        created = client.post("/v1/items", headers={**bearer(team.releaser), "X-Request-ID": "trace-0042"}, json={
            "classification": "KOR:II", "releasable_to": ["KOR"], "topics": ["dprk-missile"],
            "purpose": "missile warning", "content_text": SECRET_TEXT})
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == "trace-0042"
        item = created.json()["id"]
        read = client.get(f"/v1/items/{item}/content?token={team.reader}", headers=bearer(team.reader))
        assert read.status_code == 200 and SECRET_TEXT in read.text
        refused = client.get("/v1/whoami", headers={**bearer("wrong-" + team.officer), "X-Request-ID": "bad id!"})
        assert refused.status_code == 401
        generated = refused.headers["x-request-id"]
        assert generated and generated != "bad id!"

    text = captured.getvalue()
    parsed = lines(captured)  # every line is one JSON object
    assert parsed
    for secret in (team.releaser, team.reader, team.officer, SECRET_TEXT):
        assert secret not in text
    access = [line for line in parsed if line["logger"] == "gsomia.access"]
    post = next(line for line in access if line["method"] == "POST")
    assert post["path"] == "/v1/items" and post["status"] == 201 and post["request_id"] == "trace-0042"
    assert post["official"] == team.releaser_id and isinstance(post["duration_ms"], float)
    get = next(line for line in access if line["method"] == "GET" and line["status"] == 200)
    assert get["path"] == f"/v1/items/{item}/content"  # the query string (here a token) is never logged
    failed = next(line for line in access if line["status"] == 401)
    assert failed["request_id"] == generated and failed["official"] is None
    assert all(line["level"] in ("debug", "info", "warning", "error", "critical") for line in parsed)


def test_an_unexpected_error_is_logged_with_its_request_and_trace(node: Node, team: Team,
                                                                  captured: io.StringIO) -> None:
    app = create_app(node)

    def broken() -> None:
        raise RuntimeError("the vault door is stuck")

    app.add_api_route("/v1/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/broken", headers={**bearer(team.officer), "X-Request-ID": "incident-7"})
    assert answer.status_code == 500 and "vault door" not in answer.text  # no stack trace to the caller
    assert answer.headers.get("x-request-id") in (None, "incident-7")
    errors = [line for line in lines(captured) if line["level"] == "error"]
    assert errors, captured.getvalue()
    error = errors[0]
    assert error["request_id"] == "incident-7" and "/v1/broken" in str(error["message"])
    assert error["error"] == {"type": "RuntimeError", "message": "the vault door is stuck",
                              "trace": error["error"]["trace"]}  # type: ignore[index]
    assert "raise RuntimeError" in str(error["error"]["trace"])  # type: ignore[index]
    access = next(line for line in lines(captured) if line["logger"] == "gsomia.access")
    assert access["status"] == 500 and access["request_id"] == "incident-7"
