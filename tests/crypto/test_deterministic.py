"""crypto/_deterministic.py, the fast path of the one CBOR codec, equals its reference on random inputs:
what it writes is `cbor2.dumps(value, canonical=True)`, and it calls bytes deterministic exactly when
they are that encoding of the value they decode to."""

from __future__ import annotations

import io
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gsomia.crypto import _cose, _deterministic

BOUNDARIES = [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, 2**64, 2**72]
INTEGERS = st.one_of(st.integers(-40, 40), st.integers(-(2**70), 2**70),
                     st.builds(lambda n, sign, nudge: sign * n + nudge, st.sampled_from(BOUNDARIES),
                               st.sampled_from([1, -1]), st.integers(-1, 1)))
KEYS = st.one_of(INTEGERS, st.text(max_size=6), st.binary(max_size=6), st.booleans())
LEAVES = st.one_of(INTEGERS, st.text(max_size=8), st.binary(max_size=8), st.booleans(),
                   st.none(), st.floats(allow_nan=False), st.just(1.5), st.just(1.1))
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(KEYS, inner, max_size=5),
    st.dictionaries(INTEGERS, inner, max_size=6),  # COSE's maps: integer labels only
    st.builds(cbor2.CBORTag, st.sampled_from([16, 18, 96, 98, 1000]), inner),
), max_leaves=20)


def reference(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes) -> Any:
    return cbor2.CBORDecoder(io.BytesIO(data)).decode()


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_dumps_is_the_canonical_encoding(value: Any) -> None:
    assert _deterministic.dumps(value) == reference(value)


@settings(max_examples=400, deadline=None)
@given(VALUES, st.data())
def test_is_deterministic_agrees_with_the_reference(value: Any, data: st.DataObject) -> None:
    """Encodings of random values: canonical, plain (maps in insertion order, floats as float64), and
    byte-level variants of both; whatever decodes is judged as the reference judges it."""
    encodings = [reference(value), cbor2.dumps(value)]
    for encoded in list(encodings):
        if encoded:
            position = data.draw(st.integers(0, len(encoded) - 1))
            flipped = bytearray(encoded)
            flipped[position] ^= data.draw(st.sampled_from([0x01, 0x18, 0x20, 0x80]))
            encodings.append(bytes(flipped))
    for encoded in encodings:
        try:
            decoded = decode(encoded)
        except Exception:
            continue
        try:
            expected = reference(decoded) == encoded
        except Exception:
            continue  # a value cbor2 cannot write back: _cose.loads refuses it either way
        assert _deterministic.is_deterministic(decoded, encoded) == expected


def test_what_the_fast_path_must_tell_apart() -> None:
    """The cases the walk decides itself (out-of-order keys of each kind) and those it leaves to the
    reference (floats), against the reference, and as `_cose.loads` refuses them."""
    cases = [
        ({24: 1, -1: 2}, False),          # 0x18 0x18 sorts after 0x20: length first
        ({1: 1, -1: 2}, True),            # 0x01 before 0x20
        ({-1: 1, 1: 2}, False),
        ({-1: 1, 24: 2}, True),
        ({-(2**63): 1, 2**64: 2}, True),  # a 9-byte negative before an 11-byte bignum
        ({2**64: 1, -(2**63): 2}, False),
        ({"b": 1, "aa": 2}, True),
        ({"aa": 1, "b": 2}, False),
        ({b"b": 1, "a": 2}, True),        # 0x41 (bytes) before 0x61 (text)
    ]
    for value, canonical_order in cases:
        plain = cbor2.dumps(value)
        assert (reference(value) == plain) == canonical_order == _deterministic.is_deterministic(
            decode(plain), plain), value
        if not canonical_order:
            with pytest.raises(_cose.CoseError, match="deterministic"):
                _cose.loads(plain)
    # A float: left to the reference, which writes 1.5 as f9 3e00.
    assert _cose.loads(reference({1: 1.5})) == {1: 1.5}
    with pytest.raises(_cose.CoseError, match="deterministic"):
        _cose.loads(cbor2.dumps({1: 1.5}))  # float64 where float16 holds it
