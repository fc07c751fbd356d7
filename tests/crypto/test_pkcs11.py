"""Signing on a PKCS#11 token (SoftHSM2). Skipped only on a developer machine without SoftHSM2;
under CI=true these tests run, and fail if the token software is missing (.ci/apt-packages)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.ci import in_ci

from gsomia.crypto import KeyDirectory, NodeKeys, _cose, open, seal, sign_record, verify_record
from gsomia.crypto.pkcs11 import SOFTHSM2_LIBRARY, Pkcs11Signer

PIN = "4321"


def _missing() -> str | None:
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM2_LIBRARY).exists():
        return "SoftHSM2 is not installed (apt-get install softhsm2)"
    if importlib.util.find_spec("pkcs11") is None:
        return "python-pkcs11 is not installed"
    return None


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = _missing()
    if reason:
        if in_ci():
            pytest.fail(f"{reason}, and CI must run the PKCS#11 tests")
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "gsomia-test", "--pin", PIN,
                        "--so-pin", "87654321"], check=True, capture_output=True)
        yield "gsomia-test"


@pytest.mark.parametrize("ed25519", [True, False], ids=["Ed25519", "ECDSA-P256"])
def test_token_signer_seals_and_signs(token: str, ed25519: bool) -> None:
    signer = Pkcs11Signer.generate(token_label=token, pin=PIN, key_label=f"node-{ed25519}", prefer_ed25519=ed25519)
    try:
        assert signer.alg == (_cose.EDDSA if ed25519 else _cose.ES256)
        kor = NodeKeys.generate("KOR", "kor-hsm", signer=signer)
        jpn = NodeKeys.generate("JPN", "jpn-1")
        envelope = seal(b"from the token", label=b"L", sender=kor, recipients=[jpn.public])
        opened = open(envelope, recipient=jpn, senders=KeyDirectory([kor.public]))
        assert opened.plaintext == b"from the token" and opened.signer.alg == signer.alg
        record = sign_record("receipt", {"item_id": "i-1"}, signer=kor)
        assert verify_record(record, trusted=kor.public).body == {"item_id": "i-1"}
        # The algorithm is part of the key id (a hash of the SPKI), so two algorithms never collide.
        reopened = Pkcs11Signer(token_label=token, pin=PIN, key_label=f"node-{ed25519}")
        assert NodeKeys.generate("KOR", "k", signer=reopened).kid == kor.kid
        reopened.close()
    finally:
        signer.close()
