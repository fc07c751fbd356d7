"""Keys on disk: encrypted, 0600 files in a 0700 directory, passphrase from the environment only."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gsomia.cli.main import app
from gsomia.crypto import (
    InvalidEnvelope,
    KeyStoreError,
    PublicKeys,
    export_public,
    init_keystore,
    load_keyring,
    open,
    passphrase_from_env,
    retire_key,
    rotate_keystore,
    seal,
)

PASS = b"correct horse battery staple"


@pytest.fixture()
def node(tmp_path: Path) -> Path:
    init_keystore(tmp_path, "KOR", "kor-1", passphrase=PASS)
    return tmp_path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_layout_and_permissions(node: Path) -> None:
    keys = node / "keys"
    assert _mode(keys) == 0o700
    private = sorted(keys.glob("*.key.pem"))
    assert {p.name.split("-")[0] for p in private} >= {"sign", "agree", "root.key.pem", "tls.key.pem"}
    for path in private:
        assert _mode(path) == 0o600, path
        text = path.read_text()
        assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----"), path
        assert PASS.decode() not in text


def test_reload_gives_the_same_keys(node: Path) -> None:
    ring = load_keyring(node, passphrase=PASS)
    assert ring.party == "KOR" and len(ring) == 1
    assert load_keyring(node, passphrase=PASS).current.kid == ring.current.kid


def test_wrong_passphrase(node: Path) -> None:
    with pytest.raises(KeyStoreError, match="passphrase"):
        load_keyring(node, passphrase=b"wrong")


def test_loose_permissions_are_refused(node: Path) -> None:
    key = next((node / "keys").glob("sign-*.key.pem"))
    key.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        load_keyring(node, passphrase=PASS)
    key.chmod(0o600)
    (node / "keys").chmod(0o755)
    with pytest.raises(KeyStoreError, match="chmod 700"):
        load_keyring(node, passphrase=PASS)


def test_init_twice_is_refused(node: Path) -> None:
    with pytest.raises(KeyStoreError, match="already"):
        init_keystore(node, "KOR", "kor-1", passphrase=PASS)


def test_rotate_then_retire(node: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    peer = init_keystore(tmp_path_factory.mktemp("jpn"), "JPN", "jpn-1", passphrase=PASS)
    old = load_keyring(node, passphrase=PASS)
    before = seal(b"to the old key", label=b"L", sender=peer, recipients=[old.current.public])
    new = rotate_keystore(node, passphrase=PASS)
    ring = load_keyring(node, passphrase=PASS)
    assert ring.current.kid == new.kid and len(ring) == 2
    assert open(before, recipient=ring, senders=peer).plaintext == b"to the old key"
    retire_key(node, old.current.kid.hex())
    assert not list((node / "keys").glob(f"*-{old.current.kid.hex()}.key.pem"))
    with pytest.raises(InvalidEnvelope):
        open(before, recipient=load_keyring(node, passphrase=PASS), senders=peer)
    with pytest.raises(KeyStoreError, match="current"):
        retire_key(node, new.kid.hex())


def test_export_public_has_no_secrets(node: Path) -> None:
    document = export_public(node)
    text = json.dumps(document)
    assert "PRIVATE" not in text
    keys = PublicKeys.from_dict(document)
    assert keys.kid == load_keyring(node, passphrase=PASS).current.kid
    assert len(document["tls_fingerprint_sha256"]) == 64


def test_passphrase_sources(tmp_path: Path) -> None:
    assert passphrase_from_env({"GSOMIA_KEY_PASSPHRASE": "abc"}) == b"abc"
    secret = tmp_path / "pass"
    secret.write_text("from-file\n")
    assert passphrase_from_env({"GSOMIA_KEY_PASSPHRASE_FILE": str(secret)}) == b"from-file"
    with pytest.raises(KeyStoreError):
        passphrase_from_env({})
    with pytest.raises(KeyStoreError):
        passphrase_from_env({"GSOMIA_KEY_PASSPHRASE_FILE": str(tmp_path / "missing")})


def test_cli_init_rotate_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE", "cli pass")
    monkeypatch.delenv("GSOMIA_KEY_PASSPHRASE_FILE", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["keys", "init", "--data", str(tmp_path), "--party", "JPN"])
    assert result.exit_code == 0, result.output
    assert _mode(tmp_path / "keys") == 0o700
    result = runner.invoke(app, ["keys", "rotate", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["keys", "export-public", "--data", str(tmp_path)])
    assert result.exit_code == 0
    assert json.loads(result.output)["party"] == "JPN"
    monkeypatch.delenv("GSOMIA_KEY_PASSPHRASE")
    result = runner.invoke(app, ["keys", "rotate", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "passphrase" in result.output
    assert "Traceback" not in result.output
