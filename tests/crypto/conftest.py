from __future__ import annotations

import pytest

from gsomia.crypto import _cose
from gsomia.crypto import verified as verified_module


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every real signature verification, counted, with no signature remembered from before the test."""
    monkeypatch.setattr(verified_module, "VERIFIED", verified_module.VerifiedSignatures())
    made: list[bytes] = []
    real = _cose.verify_signature

    def counting(alg: object, key: object, signature: bytes, data: bytes) -> None:
        made.append(signature)
        real(alg, key, signature, data)

    monkeypatch.setattr(_cose, "verify_signature", counting)
    return made
