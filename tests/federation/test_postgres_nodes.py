"""Two nodes keeping their records in PostgreSQL (the production store) federate as SQLite nodes do:
a release is delivered in a batch, received once, answered with a signed receipt, and both audit
trails verify."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.conftest import PG_URL, pg_schemas, require_postgres
from tests.federation.harness import PASSPHRASE, RunningNode, delivered, items_of, originate, start, stop_all, wait_for

from gsomia.demo.loopback import create_federation

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningNode]]:
    require_postgres()
    with pg_schemas("fed", 2) as (kor_schema, jpn_schema):
        base: Path = tmp_path_factory.mktemp("pg-federation")
        specs = create_federation(base, passphrase=PASSPHRASE, parties=("KOR", "JPN"),
                                  databases={"KOR": (PG_URL, kor_schema), "JPN": (PG_URL, jpn_schema)})
        running = {party: start(spec) for party, spec in specs.items()}
        try:
            yield running
        finally:
            stop_all(running)


def test_postgresql_nodes_release_receive_and_verify(pg_pair: dict[str, RunningNode]) -> None:
    kor, jpn = pg_pair["KOR"], pg_pair["JPN"]
    assert kor.node.store.engine.dialect.name == "postgresql"
    items = [originate(kor, f"on PostgreSQL {n}") for n in range(10)]
    answers = kor.client("releaser").post("/v1/releases", json={
        "releases": [{"item_id": item, "to": "JPN"} for item in items]}).json()
    assert answers["queued"] == len(items)
    for outcome in answers["outcomes"]:
        assert wait_for(lambda m=outcome["message_id"]: delivered(kor, m), "every receipt")["state"] == "delivered"
    assert sorted(i["origin_ref"] for i in items_of(jpn) if i.get("origin_ref") in items) == sorted(items)
    for node in (kor, jpn):
        report = node.client("officer").get("/v1/audit/verify").json()
        assert report["ok"] is True, report
    with kor.node.store.engine.connect() as conn:  # the records are in PostgreSQL, in KOR's own schema
        delivered_items = text("SELECT count(*) FROM outbox WHERE state = 'delivered' AND kind = 'item'")
        assert conn.execute(delivered_items).scalar() == len(items)
