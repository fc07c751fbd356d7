"""Batch signatures: one Ed25519 signature per Merkle root; tampering, reordering and forgery fail."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from gsomia.feed.batch_signing import (
    BatchSigner,
    decode_batch,
    inclusion_proof,
    merkle_root,
    verify_batch,
    verify_inclusion,
)
from gsomia.feed.errors import InvalidBatch

KEY = Ed25519PrivateKey.generate()


def test_round_trip_and_verify() -> None:
    signer = BatchSigner(KEY, "KOR-node")
    batch = signer.sign([b"a", b"b", b"c"])
    again = decode_batch(batch.encode())
    verify_batch(again, KEY.public_key())
    assert again.frames == (b"a", b"b", b"c") and again.number == 1
    assert signer.sign([b"d"]).number == 2


@pytest.mark.parametrize("change", ["tamper", "reorder", "drop", "other_key", "renumber"])
def test_changed_batches_fail(change: str) -> None:
    batch = BatchSigner(KEY, "KOR-node").sign([b"a", b"b", b"c"])
    key = KEY.public_key()
    from dataclasses import replace
    if change == "tamper":
        batch = replace(batch, frames=(b"a", b"X", b"c"))
    elif change == "reorder":
        batch = replace(batch, frames=(b"b", b"a", b"c"))
    elif change == "drop":
        batch = replace(batch, frames=(b"a", b"b"))
    elif change == "renumber":
        batch = replace(batch, number=7)
    else:
        key = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(InvalidBatch):
        verify_batch(batch, key)


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_inclusion_proofs(frames: list[bytes], data: st.DataObject) -> None:
    root = merkle_root(frames)
    index = data.draw(st.integers(0, len(frames) - 1))
    verify_inclusion(frames[index], inclusion_proof(frames, index), root)
    with pytest.raises(InvalidBatch):
        verify_inclusion(frames[index] + b"!", inclusion_proof(frames, index), root)


@pytest.mark.parametrize("data", [b"", b"\x80", b"\x83\x01\x02\x03"])
def test_garbage_is_invalid_batch(data: bytes) -> None:
    with pytest.raises(InvalidBatch):
        decode_batch(data)
