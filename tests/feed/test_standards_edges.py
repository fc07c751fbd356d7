"""The field's formats at a running node's edges, over HTTPS and from the CLI: items out and back in as STANAG
4778 binding data objects (a changed label refused with its reason), a STANAG 4774 label checked, and a
stream's trajectory as GeoJSON and KML for an official who may read it (refused and audited for one who may
not)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all, wait_for
from typer.testing import CliRunner

from gsomia.cli.main import app
from gsomia.demo.loopback import create_federation
from gsomia.services import officials
from gsomia.services.context import Actor

from .served import LABEL, audit_entries, post, updates

pytestmark = pytest.mark.slow
runner = CliRunner()


def cli(kor: RunningNode, token: str, *args: str, code: int = 0) -> str:
    env = {"GSOMIA_TOKEN": token, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode()}
    result = runner.invoke(app, [*args, "--data", str(kor.spec.data)], env=env)
    assert "Traceback" not in result.output
    assert result.exit_code == code, result.output
    return result.output


def flight(stream: str) -> list[dict[str, Any]]:
    now = time.time()
    launch = {"stream": stream, "seq": 1, "kind": "launch", "sensor": "KOR-S1", "time": now - 10, "stale": now + 600,
              "point": {"lat": 39.02, "lon": 125.68, "alt_m": 0.0}, "error": {"ce_m": 5000.0}}
    track = updates(stream, 5, start_seq=2)
    impact = {"stream": stream, "seq": 7, "kind": "impact", "sensor": "KOR-S1", "time": now + 1, "stale": now + 600,
              "point": {"lat": 40.1, "lon": 133.2, "alt_m": 0.0}, "error": {"ce_m": 25_000.0},
              "impact_time": now + 400}
    return [launch, *track, impact]


def test_4778_4774_and_gis_exports_at_a_running_node(tmp_path: Path) -> None:
    spec = create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR",))["KOR"]
    running = {"KOR": start(spec)}
    kor = running["KOR"]
    try:
        officer = Actor(officials.authenticate(kor.node, spec.tokens["officer"]), "cli-token")
        watcher = officials.appoint(kor.node, officer, name="KOR watcher", clearance="KOR:III",
                                    granted=datetime.now(timezone.utc) - timedelta(days=1), expires=None,
                                    need_to_know=["dprk-missile"], roles=["reader"], reason="test").official
        spec.tokens["watcher"] = officials.issue_token(kor.node, officer, watcher.id, reason="test").token
        bindings(kor, tmp_path)
        gis(kor, tmp_path, watcher.id)
    finally:
        stop_all(running)


def bindings(kor: RunningNode, tmp_path: Path) -> None:
    analyst = kor.client("analyst")
    created = analyst.post("/v1/items", json={"classification": "KOR:II", "releasable_to": ["USA", "JPN"],
                                              "topics": ["dprk-missile"], "purpose": "missile warning",
                                              "content_text": "launch report"})
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    exported = analyst.get(f"/v1/items/{item_id}/stanag4778")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/xml")
    document = exported.text
    back = analyst.post("/v1/items/stanag4778", json={"document": document})
    assert back.status_code == 201, back.text
    assert back.json()["id"] != item_id and back.json()["classification"] == "KOR:II"
    assert analyst.get(f"/v1/items/{back.json()['id']}/content").json()["content_text"] == "launch report"
    changed = analyst.post("/v1/items/stanag4778", json={"document": document.replace(">KOR:II<", ">KOR:III<")})
    assert changed.status_code == 400 and "label was changed after it was bound" in changed.json()["error"]["message"]
    changed = analyst.post("/v1/items/stanag4778", json={"document": document.replace('Encoding="base64">',
                                                                                      'Encoding="base64">AAAA')})
    assert changed.status_code == 400 and "data was changed" in changed.json()["error"]["message"]
    assert [e.decision for e in audit_entries(kor, "item.import-4778")] == ["deny", "deny"]
    refused = kor.client("watcher").get(f"/v1/items/{item_id}/stanag4778")  # KOR:III may not read KOR:II
    assert refused.status_code == 403 and "R7.2" in refused.json()["error"]["rules"]

    # The same from the CLI: export to a file, import it back, and the label inside checked on its own.
    token = kor.spec.tokens["analyst"]
    out = tmp_path / "item.4778.xml"
    cli(kor, token, "items", "export-4778", item_id, "--out", str(out))
    imported = json.loads(cli(kor, token, "items", "import-4778", str(out), "--json"))
    assert imported["classification"] == "KOR:II" and imported["id"] not in (item_id, back.json()["id"])
    label = SafeET.fromstring(out.read_bytes()).find(
        ".//{urn:nato:stanag:4774:confidentialitymetadatalabel:1:0}ConfidentialityLabel")
    assert label is not None
    label_file = tmp_path / "label.xml"
    label_file.write_bytes(SafeET.tostring(label))
    shown = json.loads(cli(kor, token, "items", "check-label", str(label_file), "--json"))
    assert shown["banner"] == "SECRET//REL TO USA, JPN" and shown["topics"] == ["dprk-missile"]
    label_file.write_bytes(SafeET.tostring(label).replace(b"KOR:II", b"KOR:V"))
    assert "not a level of the KOR policy" in cli(kor, token, "items", "check-label", str(label_file), code=2)
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(out.read_bytes().replace(b">KOR:II<", b">KOR:I<"))
    assert "label was changed" in cli(kor, token, "items", "import-4778", str(tampered), code=2)


def gis(kor: RunningNode, tmp_path: Path, watcher_id: str) -> None:
    assert post(kor, "analyst", flight("KOR-GIS-1"), LABEL).status_code == 200
    analyst = kor.client("analyst")
    response = wait_for(lambda: (r := analyst.get("/v1/feed/streams/KOR-GIS-1/geojson")).status_code == 200 and r,
                        "the stream in the feed")
    assert response.headers["content-type"].startswith("application/geo+json")
    document = response.json()
    assert document["type"] == "FeatureCollection"
    kinds = {f["properties"]["kind"]: f["geometry"] for f in document["features"]}
    assert kinds["trajectory"]["type"] == "LineString" and len(kinds["trajectory"]["coordinates"]) == 5
    assert kinds["launch"]["coordinates"][:2] == [125.68, 39.02]
    ring = kinds["impact-area"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) >= 4
    assert all(f["properties"]["marking"] == "SECRET//REL TO USA, JPN, KOR" for f in document["features"])
    kml = analyst.get("/v1/feed/streams/KOR-GIS-1/kml")
    assert kml.status_code == 200 and "kml" in kml.headers["content-type"]
    root = SafeET.fromstring(kml.content)
    assert root.tag == "{http://www.opengis.net/kml/2.2}kml"
    assert len(root.findall(".//{http://www.opengis.net/kml/2.2}Placemark")) == 3

    refused = kor.client("watcher").get("/v1/feed/streams/KOR-GIS-1/geojson")
    assert refused.status_code == 403 and "R7.2" in refused.json()["error"]["rules"]
    assert analyst.get("/v1/feed/streams/KOR-NOSUCH/kml").status_code == 404
    exports = audit_entries(kor, "feed.export")
    assert {(e.actor, e.decision) for e in exports} >= {(watcher_id, "deny")}
    assert any(e.decision == "allow" and e.subject == "KOR-GIS-1" for e in exports)

    # From the CLI, out of the replay store the running node writes behind its buffer.
    out = tmp_path / "track.kml"

    def exported() -> bool:
        result = runner.invoke(app, ["feed", "export", "KOR-GIS-1", "--format", "kml", "--out", str(out), "--data",
                                     str(kor.spec.data)], env={"GSOMIA_TOKEN": kor.spec.tokens["analyst"]})
        return result.exit_code == 0

    wait_for(exported, "the stream in the replay store")
    assert SafeET.fromstring(out.read_bytes()).tag == "{http://www.opengis.net/kml/2.2}kml"
    geojson = json.loads(cli(kor, kor.spec.tokens["analyst"], "feed", "export", "KOR-GIS-1", "--json"))
    assert len(geojson["features"]) == 3
    cli(kor, kor.spec.tokens["watcher"], "feed", "export", "KOR-GIS-1", code=3)
