"""`gsomia backup` of a running node and `gsomia restore` into an empty data directory (SQLite; PostgreSQL
into a new schema): the restored node's audit trail verifies, an item released before the backup still opens
for its reader, tokens still work. A damaged archive, or a data directory that is not empty, is refused
with nothing written."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.conftest import PG_URL, pg_schemas, require_postgres
from tests.federation.harness import PASSPHRASE, delivered, originate, start, stop_all, wait_for

from gsomia.demo.loopback import LoopbackNode, create_federation

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def federation(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, LoopbackNode], str | None]]:
    """KOR and JPN; on PostgreSQL KOR's records are in a schema, and an empty one waits for the restore."""
    if request.param == "sqlite":
        yield create_federation(tmp_path / "fed", passphrase=PASSPHRASE, parties=("KOR", "JPN"), feed_links=()), None
        return
    require_postgres()
    with pg_schemas("backup", 2) as schemas:
        yield create_federation(tmp_path / "fed", passphrase=PASSPHRASE, parties=("KOR", "JPN"), feed_links=(),
                                databases={"KOR": (PG_URL, schemas[0])}), schemas[1]


def gsomia(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gsomia.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode(), **(env or {})})


def test_a_running_nodes_backup_restores_and_verifies(federation: tuple[dict[str, LoopbackNode], str | None],
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs, restore_schema = federation
    nodes = {party: start(spec) for party, spec in specs.items()}
    archive = tmp_path / "kor-backup.tar"
    try:
        kor = nodes["KOR"]
        item = originate(kor, "kept in the backup")
        released = kor.client("releaser").post("/v1/releases", json={"releases": [{"item_id": item, "to": "JPN"}]})
        message = released.json()["outcomes"][0]["message_id"]
        wait_for(lambda: delivered(kor, message), "the receipt")
        made = gsomia("backup", "--data", str(specs["KOR"].data), str(archive), "--json")  # while it serves
        assert made.returncode == 0, made.stderr
        summary = json.loads(made.stdout)
        assert summary["party"] == "KOR" and summary["database"] == ("postgresql" if restore_schema else "sqlite")
    finally:
        stop_all(nodes)
    assert archive.stat().st_mode & 0o077 == 0  # as secret as the data directory
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(names[0]).read())  # type: ignore[union-attr]
    assert names[0] == "MANIFEST.json" and sorted(names[1:]) == sorted(manifest["files"])
    key = next(n for n in names if n.startswith("data/keys/sign-") and n.endswith(".key.pem"))
    with tarfile.open(archive) as tar:
        assert b"ENCRYPTED" in tar.extractfile(key).read()  # type: ignore[union-attr]  # the private key as on disk

    restored = tmp_path / "restored"
    if restore_schema:  # the restored settings name the old schema: the operator points at the new one
        monkeypatch.setenv("GSOMIA_DATABASE_SCHEMA", restore_schema)
    done = gsomia("restore", str(archive), "--data", str(restored))
    assert done.returncode == 0, done.stderr
    verified = gsomia("audit", "verify", "--data", str(restored))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    again = start(replace(specs["KOR"], data=restored))
    try:
        opened = again.client("releaser").get(f"/v1/items/{item}/content")
        assert opened.status_code == 200, opened.text
        assert "kept in the backup" in opened.text
        report = again.client("officer").get("/v1/audit/verify").json()
        assert report["ok"] is True, report
    finally:
        stop_all({"KOR": again})


def test_a_damaged_archive_or_a_used_directory_is_refused(tmp_path: Path) -> None:
    kor = create_federation(tmp_path / "fed", passphrase=PASSPHRASE, parties=("KOR",), feed_links=())["KOR"]
    archive = tmp_path / "kor.tar"
    assert gsomia("backup", "--data", str(kor.data), str(archive)).returncode == 0
    assert gsomia("backup", "--data", str(kor.data), str(archive)).returncode == 2  # never overwritten
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w") as target:
        for member in source.getmembers():
            content = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "data/gsomia.toml":
                altered = content.replace(b'party = "KOR"', b'party = "XXX"')  # same size, other bytes
                assert altered != content
                content = altered
                member.size = len(content)
            target.addfile(member, io.BytesIO(content))
    refused = gsomia("restore", str(damaged), "--data", str(tmp_path / "from-damaged"))
    assert refused.returncode == 2 and "manifest" in refused.stderr, refused.stderr
    assert not (tmp_path / "from-damaged").exists()  # nothing half-restored
    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("here")
    refused = gsomia("restore", str(archive), "--data", str(used))
    assert refused.returncode == 2 and "not empty" in refused.stderr
    assert sorted(p.name for p in used.iterdir()) == ["something"]
