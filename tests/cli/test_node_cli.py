"""The CLI end to end on SQLite: init, officials, items, audit; bad input exits 2, writes nothing, no traceback."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner

from gsomia.cli.main import app
from gsomia.config import load_settings

runner = CliRunner()


def run(*args: str, token: str | None = None, code: int = 0) -> str:
    env = {"GSOMIA_TOKEN": token} if token else {"GSOMIA_TOKEN": ""}
    result = runner.invoke(app, list(args), env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "node"
    run("init", "--party", "KOR", "--name", "MND Seoul", "--data", str(data), "--officer-name", "Kim")
    yield data


def state(data: Path, snapshot: Callable[[Engine], dict[str, list[str]]]) -> dict[str, list[str]]:
    engine = create_engine(f"sqlite:///{data / 'gsomia.db'}")
    try:
        return snapshot(engine)
    finally:
        engine.dispose()


def test_init_creates_the_node(tmp_path: Path) -> None:
    data = tmp_path / "node"
    output = run("init", "--party", "kor", "--name", "MND Seoul", "--data", str(data))
    token = output.strip().splitlines()[-1]
    assert token.startswith("gsomia_")
    settings = load_settings(data)
    assert (settings.party, settings.name, settings.local_admin is not None) == ("KOR", "MND Seoul", True)
    assert stat.S_IMODE((data / "keys").stat().st_mode) == 0o700
    for store in data.glob("gsomia.db*"):  # the database, and SQLite's -wal and -shm beside it
        assert stat.S_IMODE(store.stat().st_mode) == 0o600, store
    assert token not in (data / "gsomia.db").read_bytes().decode("latin-1")
    listed = json.loads(run("officials", "list", "--data", str(data), "--json", token=token))
    assert [o["roles"] for o in listed] == [["security_officer"]]
    run("init", "--party", "KOR", "--name", "again", "--data", str(data), code=2)


@pytest.mark.parametrize("args,code", [
    (["--party", "XYZ"], 2), (["--party", "KOR", "--officer-expires", "2020-01-01"], 5),
    (["--party", "KOR", "--officer-expires", "2027-02-30"], 2),
    (["--party", "KOR", "--officer-clearance", "JPN:HI"], 2),
], ids=["unknown-party", "expired-clearance", "malformed-date", "foreign-clearance"])
def test_init_with_bad_input_creates_nothing(tmp_path: Path, args: list[str], code: int) -> None:
    """Bad input exits 2; a clearance already expired 5 (a conflict with the present: the same request is
    good on another day); neither creates anything."""
    data = tmp_path / "node"
    assert "error:" in run("init", "--name", "n", "--data", str(data), *args, code=code)
    assert not data.exists()


@pytest.mark.parametrize("args,code", [
    (["appoint", "--name", "Lee", "--clearance", "XYZ:II", "--reason", "r"], 2),
    (["appoint", "--name", "Lee", "--clearance", "KOR:II", "--reason", "r", "--expires", "2020-01-01"], 5),
    (["appoint", "--name", "Lee", "--clearance", "KOR:II", "--reason", "r", "--expires", "01/02/2027"], 2),
    (["appoint", "--name", "Lee", "--clearance", "KOR:II", "--reason", "r", "--role", "general"], 2),
    (["suspend", "OFF-unknown", "--reason", "r"], 4),
    (["update", "OFF-unknown", "--reason", "r", "--name", "x"], 4),
    (["token", "OFF-unknown", "--reason", "r"], 4),
], ids=["unknown-party", "expired", "malformed-date", "unknown-role", "suspend-unknown", "update-unknown",
        "token-unknown"])
def test_officials_bad_input_exits_2_or_4_and_writes_nothing(
        node: Path, args: list[str], code: int, snapshot_of: Callable[[Engine], dict[str, list[str]]]) -> None:
    """Bad input exits 2, an unknown official 4 (not found), an expired clearance 5 (a conflict with the
    present); none writes anything."""
    before = state(node, snapshot_of)
    assert "error:" in run("officials", *args, "--data", str(node), code=code)
    assert state(node, snapshot_of) == before


def test_officials_lifecycle_and_tokens(node: Path) -> None:
    shown = json.loads(run("officials", "appoint", "--data", str(node), "--name", "Lee", "--clearance", "군사II급비밀",
                           "--expires", "2030-01-01", "--topic", "nk-missile", "--role", "security_officer",
                           "--reason", "deputy", "--json"))
    lee = shown["id"]
    assert shown["clearance"] == "KOR:II" and shown["need_to_know"] == ["nk-missile"]
    token = run("officials", "token", lee, "--reason", "own token", "--data", str(node)).strip()
    tail = json.loads(run("audit", "tail", "--data", str(node), "--json", token=token))
    assert tail[-1]["action"] == "official.token" and tail[-1]["via"] == "cli-local"
    run("officials", "update", lee, "--expires", "never", "--reason", "permanent", "--data", str(node), token=token)
    detail = json.loads(run("officials", "show", lee, "--data", str(node), "--json", token=token))
    assert detail["expires"] is None and [c["action"] for c in detail["changes"]] == ["appoint", "update"]
    last = json.loads(run("audit", "tail", "-n", "1", "--data", str(node), "--json"))[0]
    assert (last["actor"], last["via"]) == (lee, "cli-token")
    run("officials", "suspend", lee, "--reason", "leave", "--data", str(node))
    assert "refused" in run("officials", "list", "--data", str(node), token=token, code=3)
    assert "refused" in run("officials", "list", "--data", str(node), token="gsomia_wrong", code=3)


def test_items_commands(node: Path) -> None:
    assert json.loads(run("items", "list", "--data", str(node), "--json")) == []
    assert "unknown item" in run("items", "show", "KOR-nope", "--data", str(node), code=4)
    assert "unknown item" in run("items", "history", "KOR-nope", "--data", str(node), code=4)


def test_audit_checkpoint_verify_export_and_tamper(node: Path, tmp_path: Path,
                                                   unguarded: Callable[[Engine], None]) -> None:
    for name in ("Lee", "Park", "Choi"):
        run("officials", "appoint", "--data", str(node), "--name", name, "--clearance", "KOR:III", "--reason", "r")
    run("audit", "checkpoint", "--data", str(node))
    assert "ok: 4 entries" in run("audit", "verify", "--data", str(node))
    export = tmp_path / "audit.jsonl"
    run("audit", "export", "--data", str(node), "--out", str(export))
    public = tmp_path / "KOR.json"  # `gsomia init` made the key store: checkpoints carry the node's key
    run("keys", "export-public", "--data", str(node), "--output", str(public))
    report = json.loads(run("audit", "verify", "--file", str(export), "--public-key", str(public), "--json"))
    assert report["ok"] and report["signatures_checked"] and report["last_seq"] == 5
    lines = export.read_text().splitlines()
    export.write_text("\n".join(line for line in lines if '"seq":3,' not in line) + "\n")
    assert "BAD at seq 3" in run("audit", "verify", "--file", str(export), "--public-key", str(public), code=1)
    engine = create_engine(f"sqlite:///{node / 'gsomia.db'}")
    unguarded(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET actor = 'OFF-someone' WHERE seq = 2"))
    engine.dispose()
    assert "BAD at seq 2: content does not match its hash" in run("audit", "verify", "--data", str(node), code=1)
    assert "error:" in run("audit", "export", "--data", str(node), "--since", "yesterday", code=2)
    assert "error:" in run("audit", "verify", code=2)


def test_a_database_that_is_missing_unmigrated_or_unreachable_is_explained(
        node: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GSOMIA_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert "schema revision none" in run("officials", "list", "--data", str(node), code=1)
    run("migrate", "--data", str(node))
    assert "refused" in run("officials", "list", "--data", str(node), code=3)  # its officials are elsewhere
    monkeypatch.setenv("GSOMIA_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    assert "cannot use the node's database" in run("items", "list", "--data", str(node), code=1)
