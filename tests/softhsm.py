"""A fresh SoftHSM2 token for a test: its own token directory and configuration (SOFTHSM2_CONF). Skipped only
on a developer machine without SoftHSM2; under CI=true a missing SoftHSM2 fails the test (.ci/apt-packages)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.ci import in_ci

from gsomia.crypto.pkcs11 import SOFTHSM2_LIBRARY

PIN = "4321"
SO_PIN = "87654321"


def softhsm_missing() -> str | None:
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM2_LIBRARY).exists():
        return "SoftHSM2 is not installed (apt-get install softhsm2)"
    if importlib.util.find_spec("pkcs11") is None:
        return "python-pkcs11 is not installed"
    return None


def require_softhsm() -> None:
    reason = softhsm_missing()
    if reason:
        if in_ci():
            pytest.fail(f"{reason}, and CI must run the PKCS#11 tests")
        pytest.skip(reason)


def new_token(directory: Path, label: str) -> Path:
    """A token labelled `label` with user PIN `PIN`; returns the SOFTHSM2_CONF file to point at it."""
    require_softhsm()
    (directory / "tokens").mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SO_PIN],
                   check=True, capture_output=True, env={"SOFTHSM2_CONF": str(conf), "PATH": "/usr/bin:/bin"})
    return conf
