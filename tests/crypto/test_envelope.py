"""seal / open: round trips, key rotation, and every way an envelope must be refused."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gsomia.crypto import (
    ECDH_ES,
    ECDH_SS,
    CryptoError,
    InvalidEnvelope,
    KeyDirectory,
    KeyRing,
    NodeKeys,
    _cose,
    in_place,
    open,
    open_at_rest,
    seal,
    seal_at_rest,
)

AT = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
LABEL = b'{"classification":"KOR:II","format":"gsomia-label/1","releasable_to":["JPN","KOR","USA"]}'


@pytest.fixture(scope="module")
def kor() -> NodeKeys:
    return NodeKeys.generate("KOR", "kor-1", at=AT)


@pytest.fixture(scope="module")
def jpn() -> NodeKeys:
    return NodeKeys.generate("JPN", "jpn-1", at=AT)


@pytest.fixture(scope="module")
def usa() -> NodeKeys:
    return NodeKeys.generate("USA", "usa-1", at=AT)


@pytest.fixture(scope="module")
def small(kor: NodeKeys, jpn: NodeKeys) -> bytes:
    return seal(b"track 42 at 37.5N 127.0E", label=LABEL, sender=kor, recipients=[jpn.public], at=AT)


@pytest.mark.parametrize("mode", [ECDH_SS, ECDH_ES])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_recipient_opens(kor: NodeKeys, jpn: NodeKeys, usa: NodeKeys, mode: int, count: int) -> None:
    recipients = [jpn, usa, kor][:count]
    envelope = seal(b"content", label=LABEL, sender=kor, recipients=[r.public for r in recipients], at=AT,
                    key_agreement=mode)
    for recipient in recipients:
        opened = open(envelope, recipient=recipient, senders=KeyDirectory([kor.public]))
        assert (opened.plaintext, opened.label, opened.signer_kid, opened.sealed_at) == (
            b"content", LABEL, kor.kid, AT)
        assert opened.signer.party == "KOR"


def test_large_item_round_trip(kor: NodeKeys, jpn: NodeKeys) -> None:
    content = bytes(range(256)) * 4096 + b"tail"
    envelope = seal(content, label=LABEL, sender=kor, recipients=[jpn.public])
    assert open(envelope, recipient=jpn, senders=kor.public).plaintext == content


def test_hand_encoding_is_deterministic_cbor(kor: NodeKeys, jpn: NodeKeys, usa: NodeKeys) -> None:
    for recipients in ([jpn.public], [jpn.public, usa.public]):
        for mode in (ECDH_SS, ECDH_ES):
            envelope = seal(b"x" * 300, label=LABEL * 3, sender=kor, recipients=recipients, key_agreement=mode)
            outer = cbor2.loads(envelope)
            assert _cose.dumps(_thaw(outer)) == envelope
            assert _cose.dumps(_thaw(cbor2.loads(outer[1]))) == outer[1]


def _thaw(value: object) -> object:
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, _thaw(value.value))
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    if hasattr(value, "items"):
        return {k: _thaw(v) for k, v in value.items()}
    return value


def test_overhead_is_small(kor: NodeKeys, jpn: NodeKeys, usa: NodeKeys) -> None:
    sizes = {n: len(seal(b"", label=b"", sender=kor, recipients=[jpn.public, usa.public, kor.public][:n]))
             for n in (1, 3)}
    print(f"envelope overhead without label: 1 recipient {sizes[1]} B, 3 recipients {sizes[3]} B")
    assert sizes[1] < 200


def test_wrong_recipient(kor: NodeKeys, usa: NodeKeys, small: bytes) -> None:
    with pytest.raises(InvalidEnvelope, match="not addressed"):
        open(small, recipient=usa, senders=kor.public)


def test_unknown_signer(jpn: NodeKeys, usa: NodeKeys, small: bytes) -> None:
    with pytest.raises(InvalidEnvelope, match="unknown signer"):
        open(small, recipient=jpn, senders=KeyDirectory([usa.public]))


def test_rotation_old_key_opens_until_retired(kor: NodeKeys) -> None:
    old = NodeKeys.generate("JPN", "jpn-1", at=AT)
    ring = KeyRing([old])
    before = seal(b"sealed to the old key", label=LABEL, sender=kor, recipients=[ring.current.public])
    ring.rotate(NodeKeys.generate("JPN", "jpn-1", at=AT + timedelta(days=90)))
    after = seal(b"sealed to the new key", label=LABEL, sender=kor, recipients=[ring.current.public])
    assert open(before, recipient=ring, senders=kor.public).plaintext == b"sealed to the old key"
    assert open(after, recipient=ring, senders=kor.public).plaintext == b"sealed to the new key"
    ring.retire(old.kid)
    with pytest.raises(InvalidEnvelope, match="retired"):
        open(before, recipient=ring, senders=kor.public)
    assert open(after, recipient=ring, senders=kor.public).plaintext == b"sealed to the new key"


def test_ring_refuses_to_retire_current_key() -> None:
    ring = KeyRing([NodeKeys.generate("KOR", "k")])
    with pytest.raises(CryptoError):
        ring.retire(ring.current.kid)


def test_newest_sender_key_signs(jpn: NodeKeys) -> None:
    ring = KeyRing([NodeKeys.generate("KOR", "k")])
    ring.rotate(NodeKeys.generate("KOR", "k"))
    envelope = seal(b"x", label=LABEL, sender=ring, recipients=[jpn.public])
    assert open(envelope, recipient=jpn, senders=ring).signer_kid == ring.current.kid


def test_unknown_version(kor: NodeKeys, jpn: NodeKeys, small: bytes) -> None:
    future = b"\x83\x02" + small[2:]
    with pytest.raises(InvalidEnvelope, match="unsupported envelope version 2"):
        open(future, recipient=jpn, senders=kor.public)
    with pytest.raises(InvalidEnvelope, match="version"):
        open(cbor2.dumps([2, b"anything"]), recipient=jpn, senders=kor.public)


def test_every_truncation(kor: NodeKeys, jpn: NodeKeys, small: bytes) -> None:
    for length in range(len(small)):
        with pytest.raises(InvalidEnvelope):
            open(small[:length], recipient=jpn, senders=kor.public)
    with pytest.raises(InvalidEnvelope, match="trailing"):
        open(small + b"\x00", recipient=jpn, senders=kor.public)


def test_every_single_byte_flip_is_refused(kor: NodeKeys, jpn: NodeKeys, small: bytes) -> None:
    for position in range(len(small)):
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(small)
            tampered[position] ^= mask
            with pytest.raises(InvalidEnvelope):
                open(bytes(tampered), recipient=jpn, senders=kor.public)


def _resign(kor: NodeKeys, envelope: bytes, new_body: bytes) -> bytes:
    """What an attacker holding the sender's signing key (but not changing the ciphertext) could do."""
    version, _, sign1 = cbor2.loads(envelope)
    protected = sign1.value[0]
    digest = hashlib.sha256(new_body).digest()
    signature = kor.signer.sign(_cose.sig_structure1(protected, b"gsomia-envelope/1", digest))
    return cbor2.dumps([version, new_body, cbor2.CBORTag(18, [protected, {}, None, signature])])


def test_altered_label_is_refused_even_when_resigned(kor: NodeKeys, jpn: NodeKeys, small: bytes) -> None:
    body = cbor2.loads(small)[1]
    altered = body.replace(b'"releasable_to":["JPN","KOR","USA"]', b'"releasable_to":["JPN","KOR","RUS"]')
    assert altered != body
    with pytest.raises(InvalidEnvelope, match="signature"):
        open(cbor2.dumps([1, altered, cbor2.loads(small)[2]]), recipient=jpn, senders=kor.public)
    # Even with a fresh valid signature, the label is AES-GCM associated data.
    with pytest.raises(InvalidEnvelope, match="authenticate"):
        open(_resign(kor, small, altered), recipient=jpn, senders=kor.public)


def test_time_to_live(kor: NodeKeys, jpn: NodeKeys, small: bytes) -> None:
    assert open(small, recipient=jpn, senders=kor.public, at=AT + timedelta(hours=1), ttl=timedelta(days=1))
    with pytest.raises(InvalidEnvelope, match="time to live"):
        open(small, recipient=jpn, senders=kor.public, at=AT + timedelta(days=2), ttl=timedelta(days=1))


def test_not_bytes_and_empty(kor: NodeKeys, jpn: NodeKeys) -> None:
    for bad in (b"", "a string", None, b"\xa0", cbor2.dumps([1]), cbor2.dumps({"a": 1})):
        with pytest.raises(InvalidEnvelope):
            open(bad, recipient=jpn, senders=kor.public)  # type: ignore[arg-type]


def test_errors_carry_a_reason_and_one_type(kor: NodeKeys, jpn: NodeKeys) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        open(b"garbage", recipient=jpn, senders=kor.public)
    assert isinstance(caught.value, CryptoError) and caught.value.reason


def test_at_rest_round_trip_and_rotation() -> None:
    ring = KeyRing([NodeKeys.generate("KOR", "kor-1")])
    stored = seal_at_rest(b"item content", label=LABEL, ring=ring, at=AT)
    assert b"item content" not in stored
    ring.rotate(NodeKeys.generate("KOR", "kor-1"))
    opened = open_at_rest(stored, ring=ring)
    assert (opened.plaintext, opened.label) == (b"item content", LABEL)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=400))
def test_random_bytes_only_raise_invalid_envelope(kor: NodeKeys, jpn: NodeKeys, garbage: bytes) -> None:
    with pytest.raises(InvalidEnvelope):
        open(garbage, recipient=jpn, senders=kor.public)


def _mutate(envelope: bytes, data: st.DataObject) -> bytes:
    mutated = bytearray(envelope)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated)))
        action = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "replace" and position < len(mutated):
            mutated[position] = data.draw(st.integers(0, 255))
        elif action == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        elif position < len(mutated):
            del mutated[position:position + data.draw(st.integers(1, 8))]
    return bytes(mutated)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_envelopes_only_raise_invalid_envelope(kor: NodeKeys, jpn: NodeKeys, small: bytes,
                                                       data: st.DataObject) -> None:
    mutated = _mutate(small, data)
    if mutated != small:
        with pytest.raises(InvalidEnvelope):
            open(mutated, recipient=jpn, senders=kor.public)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_large_envelopes_only_raise_invalid_envelope(kor: NodeKeys, jpn: NodeKeys,
                                                             data: st.DataObject) -> None:
    big = _big_envelope(kor, jpn)
    # Mutations near the structure (both ends) rather than deep inside the ciphertext.
    window = data.draw(st.sampled_from([big[:400], big[-400:]]))
    mutated = _mutate(window, data)
    candidate = mutated + big[400:] if window == big[:400] else big[:-400] + mutated
    if candidate != big:
        with pytest.raises(InvalidEnvelope):
            open(candidate, recipient=jpn, senders=kor.public)


_BIG: dict[bytes, bytes] = {}


def _big_envelope(kor: NodeKeys, jpn: NodeKeys) -> bytes:
    if kor.kid not in _BIG:
        _BIG[kor.kid] = seal(b"q" * (in_place.MIN_SIZE + 4_000), label=LABEL, sender=kor,
                             recipients=[jpn.public, kor.public], at=AT)
    return _BIG[kor.kid]

def test_adapters_for_services() -> None:
    from gsomia.crypto.adapters import RingCheckpointSigner, RingSealer, signature_check

    ring = KeyRing([NodeKeys.generate("KOR", "kor-1")])
    sealer = RingSealer(ring, clock=lambda: AT)
    blob = sealer.seal(LABEL, b"item")
    assert sealer.open(LABEL, blob) == b"item"
    with pytest.raises(InvalidEnvelope, match="another label"):
        sealer.open(LABEL + b" ", blob)
    signer = RingCheckpointSigner(ring)
    assert signer.key_id.endswith(ring.current.kid.hex())
    check = signature_check(ring.current.public)
    check(b"checkpoint", signer.sign(b"checkpoint"))
    with pytest.raises(CryptoError):
        check(b"other", signer.sign(b"checkpoint"))


def test_large_envelopes_take_the_in_place_path_and_refuse_the_same(kor: NodeKeys, jpn: NodeKeys) -> None:
    """Above in_place.MIN_SIZE the envelope is split in place rather than decoded whole: same refusals."""
    content = b"z" * (in_place.MIN_SIZE + 4_000)
    big = seal(content, label=LABEL, sender=kor, recipients=[jpn.public, kor.public], at=AT)
    assert open(big, recipient=jpn, senders=kor.public).plaintext == content
    positions = [*range(300), *range(len(big) - 300, len(big)), len(big) // 2]
    for position in positions:
        tampered = bytearray(big)
        tampered[position] ^= 0x01
        with pytest.raises(InvalidEnvelope):
            open(bytes(tampered), recipient=jpn, senders=kor.public)
    for length in (0, 1, 2, 5, 300, len(big) // 2, len(big) - 70, len(big) - 1):
        with pytest.raises(InvalidEnvelope):
            open(big[:length], recipient=jpn, senders=kor.public)
    with pytest.raises(InvalidEnvelope, match="trailing"):
        open(big + b"\x00", recipient=jpn, senders=kor.public)
    with pytest.raises(InvalidEnvelope, match="unsupported envelope version 2"):
        open(b"\x83\x02" + big[2:], recipient=jpn, senders=kor.public)


def test_only_the_deterministic_encoding_opens(kor: NodeKeys, jpn: NodeKeys, small: bytes) -> None:
    """Regression (found by hypothesis): the version 1 written with a one-byte follow (0x18 0x01) was
    accepted. Every part of an envelope has one byte form, small or large, else InvalidEnvelope."""
    big = _big_envelope(kor, jpn)
    for envelope in (small, big):
        assert envelope[:2] == b"\x83\x01"
        for variant in (b"\x83\x18\x01" + envelope[2:], b"\x83\x19\x00\x01" + envelope[2:]):
            with pytest.raises(InvalidEnvelope, match="deterministic"):
                open(variant, recipient=jpn, senders=kor.public)
        # The signature's byte string written with a two-byte length (0x59 0x00 0x40) instead of one.
        assert envelope[-66:-64] == b"\x58\x40"
        with pytest.raises(InvalidEnvelope, match="deterministic"):
            open(envelope[:-66] + b"\x59\x00\x40" + envelope[-64:], recipient=jpn, senders=kor.public)
        # The Sign1's empty unprotected map written with a one-byte follow (0xb8 0x00).
        assert envelope[-68:-66] == b"\xa0\xf6"
        with pytest.raises(InvalidEnvelope, match="deterministic"):
            open(envelope[:-68] + b"\xb8\x00\xf6" + envelope[-66:], recipient=jpn, senders=kor.public)


def test_a_protected_header_is_checked_until_it_is_known_deterministic() -> None:
    """decode_protected remembers only headers that passed the strict check, by their exact bytes."""
    header = _cose.dumps({_cose.ALG: _cose.EDDSA, _cose.KID: b"remembered"})
    widened = b"\xa2\x01\x38\x07" + header[3:]  # the alg -8 written with a one-byte follow
    assert _cose.decode_protected(header) == _cose.decode_protected(header) == {1: -8, 4: b"remembered"}
    assert header in _cose._DETERMINISTIC_HEADERS
    for _ in range(2):
        with pytest.raises(_cose.CoseError, match="deterministic"):
            _cose.decode_protected(widened)
    assert widened not in _cose._DETERMINISTIC_HEADERS
