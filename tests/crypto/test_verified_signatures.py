"""The memo of envelope signatures made or checked here (crypto/verified.py): an
envelope opened again is not verified again, yet no byte can change without a real verification."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gsomia.crypto import InvalidEnvelope, KeyDirectory, NodeKeys, open, seal
from gsomia.crypto import verified as verified_module

AT = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
LABEL = b'{"classification":"KOR:II","format":"gsomia-label/1","releasable_to":["JPN","KOR"]}'


def test_an_envelope_sealed_here_opens_without_verifying_again(verifications: list[bytes]) -> None:
    kor = NodeKeys.generate("KOR", "kor-1", at=AT)
    sealed = seal(b"content", label=LABEL, sender=kor, recipients=[kor.public], at=AT)
    assert open(sealed, recipient=kor, senders=kor.public).plaintext == b"content"
    assert verifications == []


def test_a_partners_envelope_is_verified_once(verifications: list[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    kor, jpn = NodeKeys.generate("KOR", "kor-1", at=AT), NodeKeys.generate("JPN", "jpn-1", at=AT)
    sealed = seal(b"content", label=LABEL, sender=jpn, recipients=[kor.public], at=AT)
    monkeypatch.setattr(verified_module, "VERIFIED", verified_module.VerifiedSignatures())  # sealed elsewhere
    for _ in range(3):
        open(sealed, recipient=kor, senders=KeyDirectory([jpn.public]))
    assert len(verifications) == 1


def test_no_changed_byte_passes_as_verified(verifications: list[bytes]) -> None:
    kor = NodeKeys.generate("KOR", "kor-1", at=AT)
    sealed = seal(b"content", label=LABEL, sender=kor, recipients=[kor.public], at=AT)
    open(sealed, recipient=kor, senders=kor.public)
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(InvalidEnvelope):
            open(bytes(tampered), recipient=kor, senders=kor.public)
    # A signer the caller does not trust is refused, though its signature is in the memo.
    other = NodeKeys.generate("KOR", "kor-1", at=AT)
    with pytest.raises(InvalidEnvelope):
        open(sealed, recipient=kor, senders=KeyDirectory([other.public]))


def test_the_memo_is_bounded() -> None:
    memo = verified_module.VerifiedSignatures(limit=8)
    kor = NodeKeys.generate("KOR", "kor-1", at=AT)
    for n in range(20):
        memo.add(kor.public, b"signed %d" % n, b"signature")
    assert len(memo._digests) <= 8
    assert memo.holds(kor.public, b"signed 19", b"signature")
    assert not memo.holds(kor.public, b"signed 0", b"signature")
