"""`gsomia init` with keys, `gsomia items originate|read|copy|destroy|reclassify`, `gsomia verify` offline.

Exit codes: 2 bad input, 3 refused (with the decision's rules and reasons), never a traceback.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gsomia.cli.main import app

runner = CliRunner()
SECRET = b"TEL launch detected at 38.99N 125.76E, 04:12:07Z"


def invoke(*args: str, token: str | None = None, code: int = 0, stdin: bytes | None = None) -> Result:
    result = runner.invoke(app, list(args), env={"GSOMIA_TOKEN": token or ""}, input=stdin)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    return result


def run(*args: str, token: str | None = None, code: int = 0, stdin: bytes | None = None) -> str:
    return invoke(*args, token=token, code=code, stdin=stdin).output


@pytest.fixture
def node(tmp_path: Path) -> Path:
    data = tmp_path / "node"
    run("init", "--party", "KOR", "--name", "MND Seoul", "--data", str(data), "--officer-name", "Kim")
    return data


def appoint(node: Path, name: str, clearance: str, topic: str, role: str = "reader") -> str:
    shown = json.loads(run("officials", "appoint", "--data", str(node), "--name", name, "--clearance", clearance,
                           "--topic", topic, "--role", role, "--reason", "desk", "--json"))
    return run("officials", "token", shown["id"], "--reason", "own token", "--data", str(node)).strip()


def originate(node: Path, token: str, *extra: str, code: int = 0) -> str:
    return run("items", "originate", "--data", str(node), "--classification", "KOR:II", "--rel", "USA,JPN",
               "--topics", "dprk-missile", "--purpose", "missile warning", *extra, token=token, code=code,
               stdin=SECRET)


def test_init_refuses_without_a_passphrase_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GSOMIA_KEY_PASSPHRASE")
    data = tmp_path / "node"
    assert "no key passphrase" in run("init", "--party", "KOR", "--name", "n", "--data", str(data), code=2)
    assert not data.exists()
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert "is empty" in run("init", "--party", "KOR", "--name", "n", "--data", str(data),
                             "--passphrase-file", str(empty), code=2)
    assert not data.exists()


def test_init_leaves_a_complete_node_with_encrypted_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GSOMIA_KEY_PASSPHRASE")
    secret = tmp_path / "passphrase"
    secret.write_text("from a file\n")
    data = tmp_path / "node"
    run("init", "--party", "KOR", "--name", "MND Seoul", "--data", str(data), "--passphrase-file", str(secret))
    keys = data / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert {"node.json", "tls.crt.pem", "tls.key.pem", "root.crt.pem"} <= {p.name for p in keys.iterdir()}
    for private in keys.glob("*.key.pem"):
        assert b"ENCRYPTED PRIVATE KEY" in private.read_bytes()
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE_FILE", str(secret))
    assert json.loads(run("items", "list", "--data", str(data), "--json")) == []
    run("keys", "export-public", "--data", str(data))


def test_originate_read_copy_reclassify_and_refusals(node: Path, tmp_path: Path) -> None:
    reader = appoint(node, "Park", "KOR:II", "dprk-missile")
    low = appoint(node, "Lee", "KOR:III", "dprk-missile")
    keeper = appoint(node, "Kang", "KOR:II", "dprk-missile", role="security_officer")
    shown = json.loads(originate(node, reader, "--json", "--location", "vault 1"))
    item = shown["id"]
    assert (shown["classification"], shown["banner"]) == ("KOR:II", "SECRET//REL TO USA, JPN, KOR")
    assert SECRET not in (node / "gsomia.db").read_bytes()

    result = invoke("items", "read", item, "--data", str(node), token=reader)
    assert result.stdout_bytes == SECRET and "SECRET//REL TO" in result.stderr
    out = tmp_path / "content.bin"
    run("items", "read", item, "--data", str(node), "--out", str(out), token=reader)
    assert out.read_bytes() == SECRET and stat.S_IMODE(out.stat().st_mode) == 0o600
    read = json.loads(invoke("items", "read", item, "--data", str(node), "--json", token=reader).stdout)
    assert base64.b64decode(read["content_base64"]) == SECRET and read["banner"].startswith("SECRET//")
    written = json.loads(invoke("items", "read", item, "--data", str(node), "--json", "--out", str(out),
                                token=reader).stdout)
    assert written["content_base64"] is None and written["out"] == str(out)

    refused = run("items", "read", item, "--data", str(node), token=low, code=3)
    assert "refused (R7.2" in refused and "below the item's SECRET" in refused and SECRET.decode() not in refused
    tail = json.loads(run("audit", "tail", "-n", "1", "--data", str(node), "--json"))[0]
    assert (tail["action"], tail["decision"], tail["subject"]) == ("item.read", "deny", item)
    assert "refused (R7.2" in originate(node, low, code=3)

    copy = json.loads(run("items", "copy", item, "--reason", "watch", "--data", str(node), "--json", token=reader))
    assert copy["derived_from"] == item
    assert "refused" in run("items", "reclassify", item, "--classification", "KOR:III", "--data", str(node),
                            token=reader, code=3)
    run("items", "reclassify", item, "--classification", "KOR:III", "--reason", "downgrade", "--data", str(node),
        token=keeper)
    assert invoke("items", "read", copy["id"], "--data", str(node), token=low).stdout_bytes == SECRET


@pytest.mark.parametrize("args,message", [
    (["--classification", "KOR:IX"], "not a KOR classification"),
    (["--classification", "KOR:II", "--rel", "XYZ"], "XYZ"),
    (["--classification", "KOR:II", "--purpose", " "], "purpose"),
    (["--classification", "KOR:II", "--file", "/nonexistent/content"], "No such file"),
], ids=["unknown-marking", "unknown-party", "no-purpose", "missing-file"])
def test_originate_bad_input_exits_2(node: Path, args: list[str], message: str) -> None:
    reader = appoint(node, "Park", "KOR:II", "dprk-missile")
    before = run("audit", "tail", "-n", "1", "--data", str(node), "--json")
    base = ["--topics", "dprk-missile", "--purpose", "p"]
    output = run("items", "originate", "--data", str(node), *base, *args, token=reader, code=2, stdin=SECRET)
    assert message in output
    assert run("audit", "tail", "-n", "1", "--data", str(node), "--json") == before


def test_destroy_gives_a_certificate_that_verifies_offline(node: Path, tmp_path: Path) -> None:
    reader = appoint(node, "Park", "KOR:II", "dprk-missile")
    item = json.loads(originate(node, reader, "--json"))["id"]
    assert "refused (R6.e" in run("items", "destroy", item, "--method", "burn", "--reason", "r", "--data", str(node),
                                  token=reader, code=3)
    certificate = tmp_path / "destroyed.cbor"
    run("items", "destroy", item, "--method", "crypto-erase", "--reason", "no longer needed", "--data", str(node),
        "--certificate-out", str(certificate))
    public = tmp_path / "KOR.json"
    run("keys", "export-public", "--data", str(node), "--output", str(public))
    verified = run("verify", str(certificate), "--key", str(public))
    assert "valid destruction-certificate" in verified and item in verified and "crypto-erase" in verified
    tampered = tmp_path / "tampered.cbor"
    tampered.write_bytes(certificate.read_bytes().replace(b"crypto-erase", b"crypto-erasE"))
    assert "INVALID" in run("verify", str(tampered), "--key", str(public), code=1)
    assert "destroyed" in run("items", "read", item, "--data", str(node), token=reader, code=5)

    other = json.loads(originate(node, reader, "--json"))["id"]
    printed = run("items", "destroy", other, "--method", "crypto-erase", "--reason", "done", "--data", str(node))
    as_base64 = tmp_path / "other.b64"
    as_base64.write_text(printed.strip().splitlines()[-1])
    assert base64.b64decode(as_base64.read_text())
    assert "valid destruction-certificate" in run("verify", str(as_base64), "--key", str(public))


def test_checkpoints_are_signed_with_the_node_key_and_verify_offline(node: Path, tmp_path: Path) -> None:
    run("audit", "checkpoint", "--data", str(node))
    assert not (node / "keys" / "audit-checkpoint-interim.pem").exists()
    export = tmp_path / "audit.jsonl"
    run("audit", "export", "--data", str(node), "--out", str(export))
    public = tmp_path / "KOR.json"
    run("keys", "export-public", "--data", str(node), "--output", str(public))
    assert "valid audit-checkpoint: 1 entries" in run("verify", str(export), "--key", str(public))
    assert json.loads(run("audit", "verify", "--file", str(export), "--public-key", str(public), "--json"))["ok"]
    lines = export.read_text().splitlines()
    forged = [line.replace('"count": 1', '"count": 2') if '"checkpoint"' in line else line for line in lines]
    export.write_text("\n".join(forged) + "\n")
    assert "INVALID: checkpoint 2" in run("verify", str(export), "--key", str(public), code=1)


def test_a_wrong_passphrase_is_explained(node: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE", "not the passphrase")
    assert "wrong passphrase" in run("items", "read", "KOR-x", "--data", str(node), code=2)
    monkeypatch.delenv("GSOMIA_KEY_PASSPHRASE")
    assert "no key passphrase" in run("items", "destroy", "KOR-x", "--method", "m", "--reason", "r",
                                      "--data", str(node), code=2)


def test_R6_e_officials_access_lists_each_items_read_decision_and_why_not(node: Path) -> None:
    releaser = appoint(node, "Lee", "KOR:II", "dprk-missile", "releasing_official")
    item_id = originate(node, releaser, "--quiet").strip()
    outsider = json.loads(run("officials", "appoint", "--data", str(node), "--name", "Choi", "--clearance", "KOR:II",
                              "--topic", "dprk-nuclear", "--reason", "desk", "--json"))["id"]
    table = run("officials", "access", outsider, "--data", str(node))
    assert item_id in table and "REFUSED" in table and "R7.2" in table and "may read 0 of 1 items held" in table
    review = json.loads(run("officials", "access", outsider, "--data", str(node), "--json", "--refused"))
    assert [(i["item_id"], i["allowed"]) for i in review["items"]] == [(item_id, False)]
    assert SECRET.decode() not in table
    assert "security_officer" in run("officials", "access", outsider, "--data", str(node), token=releaser, code=3)
    assert "OFF-nobody" in run("officials", "access", "OFF-nobody", "--data", str(node), code=4)
