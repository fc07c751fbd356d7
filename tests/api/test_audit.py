"""The audit trail over HTTP: paged by seq with a `next` cursor (no server-side state), verified, checkpointed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.api.helpers import Team, bearer


def test_paging_walks_the_whole_log_once(client: TestClient, team: Team) -> None:
    officer = bearer(team.officer)
    for _ in range(3):  # a few more entries: refused reads are audited too
        client.get("/v1/officials", headers=bearer(team.reader))
    seen: list[int] = []
    cursor: int | None = 0
    while cursor is not None:
        page = client.get("/v1/audit/entries", headers=officer, params={"since": cursor, "limit": 4}).json()
        assert len(page["entries"]) <= 4
        seen += [e["seq"] for e in page["entries"]]
        cursor = page["next"]
    assert seen == list(range(1, len(seen) + 1)) and len(seen) > 8
    tail = client.get("/v1/audit/entries", headers=officer, params={"since": seen[-1]}).json()
    assert tail == {"entries": [], "next": None}
    first = client.get("/v1/audit/entries", headers=officer, params={"limit": 2}).json()["entries"]
    assert first[1]["prev_hash"] == first[0]["hash"]
    assert first[0]["action"] == "official.bootstrap"


def test_verify_and_checkpoint(client: TestClient, team: Team) -> None:
    officer = bearer(team.officer)
    made = client.post("/v1/audit/checkpoints", headers=officer)
    assert made.status_code == 201 and made.json()["key_id"].startswith("gsomia:KOR:")
    report = client.get("/v1/audit/verify", headers=officer).json()
    assert report["ok"] is True and report["problem"] is None
    assert report["checkpoints"] >= 1 and report["signatures_checked"] is True
    assert report["last_seq"] >= made.json()["count"]


def test_only_the_security_officer_reads_the_trail(client: TestClient, team: Team) -> None:
    for path in ("/v1/audit/entries", "/v1/audit/verify"):
        refused = client.get(path, headers=bearer(team.releaser))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "refused"
    assert client.post("/v1/audit/checkpoints", headers=bearer(team.reader)).status_code == 403
