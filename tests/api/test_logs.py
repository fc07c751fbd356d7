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
