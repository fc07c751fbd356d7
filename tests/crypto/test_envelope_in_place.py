"""crypto/in_place.py, the large envelopes' fast path, equals the reference on random inputs (hypothesis):
sealing writes the bytes the reference codec writes, and opening gives the same content or the same
refusal whether an envelope is taken apart in place or decoded whole.

The threshold is moved (`in_place.MIN_SIZE`) so that small random envelopes take either path."""

from __future__ import annotations

import random as stdlib_random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gsomia.crypto import ECDH_ES, ECDH_SS, InvalidEnvelope, NodeKeys, in_place
from gsomia.crypto.envelope import open_envelope, seal_with

AT = datetime(2026, 12, 7, 4, 0, tzinfo=timezone.utc)
EVERYTHING_IN_PLACE, NOTHING_IN_PLACE = 0, 1 << 62


@pytest.fixture(scope="module")
def kor() -> NodeKeys:
    return NodeKeys.generate("KOR", "kor-1", at=AT)


@pytest.fixture(scope="module")
def jpn() -> NodeKeys:
    return NodeKeys.generate("JPN", "jpn-1", at=AT)


@pytest.fixture(scope="module")
def usa() -> NodeKeys:
    return NodeKeys.generate("USA", "usa-1", at=AT)


@contextmanager
def threshold(size: int) -> Iterator[None]:
    before = in_place.MIN_SIZE
    in_place.MIN_SIZE = size
    try:
        yield
    finally:
        in_place.MIN_SIZE = before


def seeded(seed: int) -> Callable[[int], bytes]:
    generator = stdlib_random.Random(seed)
    return lambda n: generator.randbytes(n)


def sealed(plaintext: bytes, label: bytes, sender: NodeKeys, recipients: list[NodeKeys], mode: int,
           seed: int) -> bytes:
    ephemeral = X25519PrivateKey.from_private_bytes(seeded(seed)(32))
    return seal_with(plaintext, label=label, sender=sender, recipients=[r.public for r in recipients], at=AT,
                     key_agreement=mode, random=seeded(seed), ephemeral=ephemeral)


def opened(envelope: bytes, recipient: NodeKeys, sender: NodeKeys) -> tuple[bytes, bytes] | str:
    try:
        result = open_envelope(envelope, recipient=recipient, senders=sender.public)
    except InvalidEnvelope as refused:
        return refused.reason
    return result.label, result.plaintext


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(plaintext=st.binary(max_size=600), label=st.binary(max_size=300), count=st.integers(1, 3),
       mode=st.sampled_from([ECDH_SS, ECDH_ES]), seed=st.integers(0, 2**32))
def test_sealing_in_place_writes_the_reference_bytes(kor: NodeKeys, jpn: NodeKeys, usa: NodeKeys, plaintext: bytes,
                                                     label: bytes, count: int, mode: int, seed: int) -> None:
    recipients = [jpn, usa, kor][:count]
    with threshold(NOTHING_IN_PLACE):
        reference = sealed(plaintext, label, kor, recipients, mode, seed)
    with threshold(EVERYTHING_IN_PLACE):
        fast = sealed(plaintext, label, kor, recipients, mode, seed)
    assert fast == reference


def _mutated(envelope: bytes, data: st.DataObject) -> bytes:
    mutated = bytearray(envelope)
    # Near both ends, where the structure is, and the heads of the two large byte strings.
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.one_of(st.integers(0, 40), st.integers(max(0, len(mutated) - 120), len(mutated))))
        action = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "replace" and position < len(mutated):
            mutated[position] = data.draw(st.integers(0, 255))
        elif action == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=4))
        elif position < len(mutated):
            del mutated[position:position + data.draw(st.integers(1, 4))]
    return bytes(mutated)


def _widened_heads(envelope: bytes, data: st.DataObject) -> bytes:
    """A byte string's head written longer than it must be (0x58 n → 0x59 0x00 n): not deterministic."""
    heads = [i for i in range(min(len(envelope) - 1, 60)) if envelope[i] == 0x58]
    if not heads:
        return envelope
    at = data.draw(st.sampled_from(heads))
    return envelope[:at] + b"\x59\x00" + envelope[at + 1:]


@SETTINGS
@given(plaintext=st.binary(max_size=400), count=st.integers(1, 2), mode=st.sampled_from([ECDH_SS, ECDH_ES]),
       seed=st.integers(0, 2**32), data=st.data())
def test_opening_in_place_agrees_with_the_reference(kor: NodeKeys, jpn: NodeKeys, usa: NodeKeys, plaintext: bytes,
                                                    count: int, mode: int, seed: int, data: st.DataObject) -> None:
    envelope = sealed(plaintext, b'{"classification":"KOR:II"}', kor, [jpn, usa][:count], mode, seed)
    candidate = data.draw(st.sampled_from(["as sealed", "mutated", "widened"]))
    if candidate == "mutated":
        envelope = _mutated(envelope, data)
    elif candidate == "widened":
        envelope = _widened_heads(envelope, data)
    with threshold(NOTHING_IN_PLACE):
        reference = opened(envelope, jpn, kor)
    with threshold(EVERYTHING_IN_PLACE):
        fast = opened(envelope, jpn, kor)
    assert fast == reference
    if candidate == "as sealed":
        assert fast == (b'{"classification":"KOR:II"}', plaintext)


def test_a_large_envelope_is_taken_apart_in_place(kor: NodeKeys, jpn: NodeKeys) -> None:
    """The layout `seal` writes is the one the fast path recognises (else it would never be taken)."""
    from gsomia.crypto import envelope as module

    large = sealed(b"q" * (in_place.MIN_SIZE + 1), b"label", kor, [jpn], ECDH_SS, 7)
    split = in_place.outer(large, module._OUTER_PREFIX)
    assert split is not None
    body, _ = split
    parts = in_place.encrypt(body, module._ENCRYPT_PREFIX, module._IV_MAP[:-module.IV_BYTES], len(module._IV_MAP))
    assert parts is not None and len(parts[0]) == in_place.MIN_SIZE + 1 + 16
    assert opened(large, jpn, kor) == (b"label", b"q" * (in_place.MIN_SIZE + 1))
