"""Keys in hardware as a node setting: a KOR node whose settings name a PKCS#11 token (SoftHSM2) rotates to a
generation whose signing key is on the token (no private key file for it), signs its peer messages, envelopes
and audit checkpoints with it, and JPN, knowing only that key, accepts them; after a restart it still does.
The PIN comes from the environment, never from the settings file; without it the node says what is missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.federation.harness import PASSPHRASE, start, stop_all, wait_for
from tests.softhsm import PIN, new_token

from gsomia.config import ConfigError, load_settings, write_settings
from gsomia.crypto import PublicKeys, signature_check
from gsomia.crypto.pkcs11 import SOFTHSM2_LIBRARY
from gsomia.demo.client import official_client
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.services.audit_chain import checkpoint_payload
from gsomia.services.errors import KeysUnavailable
from gsomia.services.partners import add_peer
from gsomia.services.runtime import open_node

pytestmark = pytest.mark.slow
KEY_LABEL = "kor-node-signing"


def gsomia(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gsomia.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode()})


def release_delivered(kor: LoopbackNode, text: str) -> None:
    with official_client(kor.api_url, kor.root_certificate, kor.tokens["releaser"]) as releaser, \
            official_client(kor.api_url, kor.root_certificate, kor.tokens["officer"]) as officer:
        item = releaser.post("/v1/items", json={
            "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"], "topics": ["dprk-missile"],
            "purpose": "missile warning", "content_text": text})
        assert item.status_code == 201, item.text
        answer = releaser.post("/v1/releases", json={"releases": [{"item_id": item.json()["id"], "to": "JPN"}]})
        assert answer.status_code == 200, answer.text
        message = answer.json()["outcomes"][0]["message_id"]

        def settled() -> dict[str, str] | None:
            return next((m for m in officer.get("/v1/outbox").json()
                         if m["message_id"] == message and m["state"] != "pending"), None)

        outcome = wait_for(settled, "JPN's answer")
        assert outcome["state"] == "delivered", outcome  # JPN verified what the token signed, and took it


def serve(kor: LoopbackNode, log: Path) -> subprocess.Popen[bytes]:
    """KOR as a real `gsomia serve` process (its own PKCS#11 session; a restart is a new process)."""
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "gsomia.cli", "serve", "--data", str(kor.data)],
                                   env={**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode()},
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def up() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            with official_client(kor.api_url, kor.root_certificate, "") as client:
                return client.get("/v1/health").status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, "KOR to serve", timeout=60)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def test_a_node_signs_with_its_token_key_and_keeps_doing_so_after_a_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", str(new_token(tmp_path / "hsm", "kor-token")))
    specs = create_federation(tmp_path / "fed", passphrase=PASSPHRASE, parties=("KOR", "JPN"), feed_links=())
    kor, jpn_spec = specs["KOR"], specs["JPN"]
    settings = load_settings(kor.data).model_copy(update={
        "pkcs11_module": SOFTHSM2_LIBRARY, "pkcs11_token_label": "kor-token", "pkcs11_key_label": KEY_LABEL})
    write_settings(settings)
    assert PIN not in (kor.data / "gsomia.toml").read_text()

    monkeypatch.delenv("GSOMIA_PKCS11_PIN", raising=False)
    refused = gsomia("keys", "rotate", "--data", str(kor.data))
    assert refused.returncode == 2 and "GSOMIA_PKCS11_PIN" in refused.stderr, refused.stderr
    monkeypatch.setenv("GSOMIA_PKCS11_PIN", PIN)
    rotated = gsomia("keys", "rotate", "--data", str(kor.data), "--json")
    assert rotated.returncode == 0, rotated.stderr
    kid = json.loads(rotated.stdout)["kid"]
    assert json.loads(rotated.stdout)["token_key"] == KEY_LABEL
    meta = json.loads((kor.data / "keys" / "node.json").read_text())
    assert meta["generations"][0]["kid"] == kid and meta["generations"][0]["pkcs11_key_label"] == KEY_LABEL
    assert not (kor.data / "keys" / f"sign-{kid}.key.pem").exists()  # the private key stays on the token
    exported = json.loads(gsomia("keys", "export-public", "--data", str(kor.data)).stdout)
    assert exported["kid"] == kid
    add_peer(jpn_spec.data, "KOR", kor.peer_url, exported)  # as after any rotation: JPN knows only the token key

    jpn = start(jpn_spec)
    log = tmp_path / "kor.log"
    process = serve(kor, log)
    try:
        release_delivered(kor, "signed on the token")
        with official_client(kor.api_url, kor.root_certificate, kor.tokens["officer"]) as officer:
            made = officer.post("/v1/audit/checkpoints")
            assert made.status_code == 201, made.text
            assert made.json()["key_id"] == f"gsomia:KOR:{kid}"
            verified = officer.get("/v1/audit/verify").json()
            assert verified["ok"] is True, verified
        with open_node(kor.data, keys=False) as records:
            with records.store.unit_of_work(readonly=True) as uow:
                checkpoint = uow.audit.checkpoints()[-1]
        # Signed by the token's key: it checks against the public key JPN was given.
        token_public = PublicKeys.from_dict({k: v for k, v in exported.items() if k in (
            "format", "party", "node", "kid", "alg", "verify_key", "agree_key")})
        signature_check(token_public)(checkpoint_payload(checkpoint.count, checkpoint.head_hash, checkpoint.at,
                                                         checkpoint.key_id), checkpoint.signature)
        stop(process)
        process = serve(kor, log)  # a restart: a new process, a new session on the token, the same key
        release_delivered(kor, "signed on the token after a restart")
    finally:
        stop(process)
        stop_all({"JPN": jpn})

    monkeypatch.delenv("GSOMIA_PKCS11_PIN")
    with pytest.raises(KeysUnavailable, match="GSOMIA_PKCS11_PIN"):
        open_node(kor.data, passphrase=PASSPHRASE)
    with (kor.data / "gsomia.toml").open("a", encoding="utf-8") as config:
        config.write(f'pkcs11_pin = "{PIN}"\n')
    with pytest.raises(ConfigError, match="pkcs11_pin"):  # no such setting: a PIN has no place in the file
        load_settings(kor.data)

