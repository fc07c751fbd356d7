"""Every CLI test runs with a key passphrase in the environment, as an operator's shell would have it:
`gsomia init` refuses to write keys without one, and the commands that seal, open or sign need it."""

from __future__ import annotations

import pytest

PASSPHRASE = "cli test passphrase"


@pytest.fixture(autouse=True)
def key_passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("GSOMIA_KEY_PASSPHRASE_FILE", raising=False)
    return PASSPHRASE
