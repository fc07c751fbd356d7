"""Keys in hardware as a node setting: a KOR node whose settings name a PKCS#11 token (SoftHSM2) rotates to a
generation whose signing key is on the token (no private key file for it), signs its peer messages, envelopes
and audit checkpoints with it, and JPN, knowing only that key, accepts them; after a restart it still does.
The PIN comes from the environment, never from the settings file; without it the node says what is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, delivered, originate, start, stop_all, wait_for
from tests.softhsm import PIN, new_token

from gsomia.config import ConfigError, load_settings, write_settings
from gsomia.crypto import PublicKeys, signature_check
from gsomia.crypto.pkcs11 import SOFTHSM2_LIBRARY, Pkcs11Signer
from gsomia.demo.loopback import create_federation
from gsomia.services.audit_chain import checkpoint_payload
from gsomia.services.errors import KeysUnavailable
from gsomia.services.partners import add_peer
from gsomia.services.runtime import open_node

pytestmark = pytest.mark.slow
KEY_LABEL = "kor-node-signing"


def gsomia(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gsomia.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE.decode()})


def release_delivered(kor: RunningNode, text: str) -> None:
    item = originate(kor, text)
    answer = kor.client("releaser").post("/v1/releases", json={"releases": [{"item_id": item, "to": "JPN"}]})
    assert answer.status_code == 200, answer.text
    message = answer.json()["outcomes"][0]["message_id"]
    settled = wait_for(lambda: delivered(kor, message), "JPN's answer")
    assert settled["state"] == "delivered", settled  # JPN verified what the token signed, and took it


def test_a_node_signs_with_its_token_key_and_keeps_doing_so_after_a_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", str(new_token(tmp_path / "hsm", "kor-token")))
    specs = create_federation(tmp_path / "fed", passphrase=PASSPHRASE, parties=("KOR", "JPN"), feed_links=())
    kor_spec, jpn_spec = specs["KOR"], specs["JPN"]
    settings = load_settings(kor_spec.data).model_copy(update={
        "pkcs11_module": SOFTHSM2_LIBRARY, "pkcs11_token_label": "kor-token", "pkcs11_key_label": KEY_LABEL})
    write_settings(settings)
    assert PIN not in (kor_spec.data / "gsomia.toml").read_text()

    monkeypatch.delenv("GSOMIA_PKCS11_PIN", raising=False)
    refused = gsomia("keys", "rotate", "--data", str(kor_spec.data))
    assert refused.returncode == 2 and "GSOMIA_PKCS11_PIN" in refused.stderr, refused.stderr
    monkeypatch.setenv("GSOMIA_PKCS11_PIN", PIN)
    rotated = gsomia("keys", "rotate", "--data", str(kor_spec.data), "--json")
    assert rotated.returncode == 0, rotated.stderr
    kid = json.loads(rotated.stdout)["kid"]
    assert json.loads(rotated.stdout)["token_key"] == KEY_LABEL
    meta = json.loads((kor_spec.data / "keys" / "node.json").read_text())
    assert meta["generations"][0]["kid"] == kid and meta["generations"][0]["pkcs11_key_label"] == KEY_LABEL
    assert not (kor_spec.data / "keys" / f"sign-{kid}.key.pem").exists()  # the private key stays on the token
    exported = gsomia("keys", "export-public", "--data", str(kor_spec.data))
    add_peer(jpn_spec.data, "KOR", kor_spec.peer_url, json.loads(exported.stdout))  # as after any rotation

    jpn = start(jpn_spec)
    kor = start(kor_spec)
    try:
        assert isinstance(kor.node.keys.current.signer, Pkcs11Signer) and kor.node.keys.current.kid.hex() == kid
        release_delivered(kor, "signed on the token")
        made = kor.client("officer").post("/v1/audit/checkpoints")
        assert made.status_code == 201, made.text
        assert made.json()["key_id"] == f"gsomia:KOR:{kid}"
        verified = kor.client("officer").get("/v1/audit/verify").json()
        assert verified["ok"] is True, verified
        with kor.node.store.unit_of_work(readonly=True) as uow:
            checkpoint = uow.audit.checkpoints()[-1]
        # Signed by the token's key: it checks against the public key JPN was given, and no other.
        token_public = PublicKeys.from_dict({k: v for k, v in json.loads(exported.stdout).items()
                                             if k in ("format", "party", "node", "kid", "alg", "verify_key",
                                                      "agree_key")})
        signature_check(token_public)(checkpoint_payload(checkpoint.count, checkpoint.head_hash, checkpoint.at,
                                                         checkpoint.key_id), checkpoint.signature)
        kor.signal_stop()
        kor.join()
        kor = start(replace(kor_spec))  # a restart: a new session on the token, the same key
        assert kor.node.keys.current.kid.hex() == kid
        release_delivered(kor, "signed on the token after a restart")
    finally:
        stop_all({"KOR": kor, "JPN": jpn})

    monkeypatch.delenv("GSOMIA_PKCS11_PIN")
    with pytest.raises(KeysUnavailable, match="GSOMIA_PKCS11_PIN"):
        open_node(kor_spec.data, passphrase=PASSPHRASE)
    with (kor_spec.data / "gsomia.toml").open("a", encoding="utf-8") as config:
        config.write(f'pkcs11_pin = "{PIN}"\n')
    with pytest.raises(ConfigError, match="pkcs11_pin"):  # no such setting: a PIN has no place in the file
        load_settings(kor_spec.data)

