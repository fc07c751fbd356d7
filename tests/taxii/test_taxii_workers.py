"""`gsomia serve --workers 2` on PostgreSQL, as a TAXII client meets it: an envelope POSTed to one worker, its
status asked for 30 times on new connections (the kernel spreads them over both workers) and always found, the
same X-TAXII-Date-Added-Last from either worker. (With statuses in each process's memory, about half were 404.)"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import PG_URL, pg_schemas, require_postgres
from tests.federation.harness import PASSPHRASE, wait_for
from tests.federation.test_workers import stop_supervisor
from tests.services.test_taxii_store import report

from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.services.taxii import collection_id

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
TAXII = "application/taxii+json;version=2.1"


@pytest.fixture
def pg_kor(tmp_path: Path) -> Iterator[LoopbackNode]:
    require_postgres()
    with pg_schemas("taxii") as (schema,):
        yield create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR",), feed_links=(),
                                databases={"KOR": (PG_URL, schema)})["KOR"]


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def test_a_status_is_found_on_either_worker(pg_kor: LoopbackNode, tmp_path: Path) -> None:
    kor = pg_kor
    env = {**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode()}
    with (tmp_path / "kor.log").open("wb") as out:
        supervisor = subprocess.Popen([sys.executable, "-m", "gsomia.cli", "serve", "--data", str(kor.data),
                                       "--workers", "2"], env=env, stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=subprocess.STDOUT)
    trust = ssl.create_default_context(cafile=str(kor.root_certificate))
    headers = {"Authorization": f"Bearer {kor.tokens['releaser']}", "Accept": TAXII}

    def get(path: str) -> httpx.Response:  # a new connection each time: either worker may answer
        with httpx.Client(base_url=kor.api_url, verify=trust, timeout=30) as client:
            return client.get(path, headers=headers)

    def answers() -> bool:
        assert supervisor.poll() is None, f"gsomia serve exited with {supervisor.returncode}"
        try:
            return all(get("/taxii2/").status_code == 200 for _ in range(4))
        except httpx.HTTPError:
            return False

    collection = f"/taxii2/api/collections/{collection_id('usa-jpn-kor-tisa-2014')}/"
    try:
        wait_for(answers, "both of KOR's workers to answer", timeout=90)
        with httpx.Client(base_url=kor.api_url, verify=trust, timeout=30) as client:
            posted = client.post(f"{collection}objects/", json={"objects": report("either worker")},
                                 headers={**headers, "Content-Type": TAXII})
        assert posted.status_code == 202 and posted.json()["success_count"] == 1, posted.text
        statuses = [get(f"/taxii2/api/status/{posted.json()['id']}/") for _ in range(30)]
        assert [s.status_code for s in statuses] == [200] * 30
        assert all(s.json() == posted.json() for s in statuses)
        lasts = {get(f"{collection}manifest/").headers["X-TAXII-Date-Added-Last"] for _ in range(10)}
        assert len(lasts) == 1
    finally:
        stop_supervisor(supervisor)
