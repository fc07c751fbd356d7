"""Batch signatures: one Ed25519 signature per Merkle root; tampering, reordering and forgery fail."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from gsomia.crypto import Inclusion, InvalidBatchSignature, merkle
from gsomia.crypto import verify_batch as verify_root
from gsomia.feed.batch_signing import BatchSigner, SignedBatch, decode_batch, verify_batch
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
    """One frame of a signed batch is shown to belong to it without the others (crypto.batches, the
    batch signing that signed records share), under the signature the batch carries."""
    batch = BatchSigner(KEY, "KOR-node").sign(frames, b"nonce")
    index = data.draw(st.integers(0, len(frames) - 1))
    _, paths = merkle.inclusion_paths(frames)
    framing = _framing_of(batch)
    assert verify_root(Inclusion(frames[index], index, len(frames), paths[index]), batch.signature,
                       KEY.public_key(), framing) == batch.root
    with pytest.raises(InvalidBatchSignature):
        verify_root(Inclusion(frames[index] + b"!", index, len(frames), paths[index]), batch.signature,
                    KEY.public_key(), framing)


def _framing_of(batch: SignedBatch) -> Callable[[bytes], bytes]:
    from gsomia.feed.batch_signing import _signed_bytes

    return lambda root: _signed_bytes(batch.signer, batch.number, len(batch.frames), root, b"nonce")


@pytest.mark.parametrize("data", [b"", b"\x80", b"\x83\x01\x02\x03"])
def test_garbage_is_invalid_batch(data: bytes) -> None:
    with pytest.raises(InvalidBatch):
        decode_batch(data)
