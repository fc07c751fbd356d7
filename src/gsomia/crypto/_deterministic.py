"""Deterministic CBOR (RFC 8949 §4.2) at the price of cbor2's plain mode: the fast path, pinned to the reference.

The reference is cbor2's canonical mode: `cbor2.dumps(value, canonical=True)` is what gsomia writes, and
a byte string is deterministic when it is exactly that for the value it decodes to.

Why a fast path: benchmarks/bench_envelope.py's lines "512 seal" and "512 open". cbor2 6.3 writes a
map three to five times slower in canonical mode than in plain mode (9 µs against 2 µs for a signer's
protected header, on 2026-12-07), and the strict decoder re-encodes every structure it reads: with the
reference alone a 512-byte seal fell from 67 % of raw-hash to 47 %, an open from 313 % to 146-190 %.

What it does: canonical mode differs from plain mode only where a value holds a map whose keys are not
in canonical order (keys sorted by their encodings, shorter first, then bytewise: RFC 8949 §4.2.3), a
float (plain mode writes float64) or a set. `_order` walks the value: when every map is in canonical
order and nothing else could differ, plain mode writes the canonical bytes; a map out of order means
bytes that decoded to it were not deterministic; anything else is left to the reference.

tests/crypto/test_deterministic.py proves `dumps` and `is_deterministic` equal to the reference on
random values and random encodings of them (hypothesis).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import cbor2


class _Order(Enum):
    CANONICAL = 1  # plain mode writes the canonical bytes
    UNORDERED = 2  # a map's keys are out of canonical order
    ASK = 3        # something plain mode may write otherwise (a float, a set, another type): ask the reference


_LEAVES = frozenset({int, bool, str, bytes, type(None)})  # written alike in both modes
_KEYS = frozenset({int, bool, str, bytes})
_ARRAYS = frozenset({list, tuple})  # cbor2 decodes arrays inside a tag as tuples
_MAPS = frozenset({dict, cbor2.frozendict})  # and maps inside a tag as frozendicts


def _int_key(n: int) -> tuple[int, bool, int]:
    """Where integer key `n` sorts among integer keys: as (length, bytes) of its encoding would. The
    head's length grows with the argument (below 24, 2**8, 2**16, 2**32, 2**64, then a bignum's bytes),
    a non-negative integer's major type (0, or tag 2) sorts before a negative one's (1, or tag 3), then
    the argument (n, or -1 - n) decides."""
    argument = n if n >= 0 else -1 - n
    if argument >= 1 << 64:  # a bignum (tag 2 or 3 and a byte string): longer with every byte
        return 4 + (argument.bit_length() + 7) // 8, n < 0, argument
    size = 0 if argument < 24 else 1 if argument < 1 << 8 else 2 if argument < 1 << 16 else 3 if (
        argument < 1 << 32) else 4
    return size, n < 0, argument


def _order(value: Any, depth: int = 0) -> _Order:
    # Exact types, not isinstance: a subclass may encode otherwise, and the check runs on every item read.
    kind = type(value)
    if kind in _LEAVES:
        return _Order.CANONICAL
    if depth > 32:
        return _Order.ASK
    if kind in _ARRAYS:
        items: Any = value
    elif kind is cbor2.CBORTag:
        items = (value.value,)
    elif kind in _MAPS:
        if len(value) > 1:
            if all(type(key) is int for key in value):  # COSE's labels: no need to encode them
                keys: list[Any] = [_int_key(key) for key in value]
            elif all(type(key) in _KEYS for key in value):
                keys = [(len(encoded), encoded) for encoded in map(cbor2.dumps, value)]
            else:
                return _Order.ASK
            if any(keys[i] >= keys[i + 1] for i in range(len(keys) - 1)):
                return _Order.UNORDERED
        elif value and type(next(iter(value))) not in _LEAVES:
            return _Order.ASK
        items = value.values()
    else:
        return _Order.ASK
    worst = _Order.CANONICAL
    for item in items:
        if type(item) in _LEAVES:  # most items: no call
            continue
        order = _order(item, depth + 1)
        if order is _Order.UNORDERED:
            return order
        worst = _Order.ASK if order is _Order.ASK else worst
    return worst


def dumps(value: object) -> bytes:
    """`cbor2.dumps(value, canonical=True)`, in plain mode when that writes the same bytes."""
    if _order(value) is _Order.CANONICAL:
        return cbor2.dumps(value)
    return cbor2.dumps(value, canonical=True)


def is_deterministic(value: object, data: bytes | bytearray | memoryview) -> bool:
    """Whether `data`, which decoded to `value`, is `cbor2.dumps(value, canonical=True)`."""
    order = _order(value)
    if order is _Order.UNORDERED:
        return False
    return (cbor2.dumps(value) if order is _Order.CANONICAL else cbor2.dumps(value, canonical=True)) == data
