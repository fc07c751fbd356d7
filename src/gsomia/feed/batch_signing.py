"""One Ed25519 signature over a Merkle root per batch of frames, so signing cost does not cap the rate.

Ed25519 verifies ~8.4 k/s per core here: one signature per message would cap a hop below the 5,000
messages a second we must carry, twice over with sign + verify. A batch is whatever the sender has
queued when it is ready to send, so at low rates a batch is one frame (no added latency) and under
load batches grow and the per-message cost falls.

Merkle rather than a hash of the concatenation: a single frame can later be shown to belong to a
signed batch (`inclusion_proof`) without the rest, e.g. when one message is disputed or audited.
The tree is RFC 9162's (crypto/merkle.py, shared with signed records): leaves and inner nodes are
domain-separated (0x00 / 0x01) so a leaf cannot pose as a node.

Keys arrive as `cryptography` key objects, or (in a running node) the crypto layer's signer for the
node's current key, so the private key never leaves the crypto layer; the crypto layer owns key files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.crypto import merkle
from gsomia.feed.errors import InvalidBatch


class SigningKey(Protocol):
    """An Ed25519 private key, or anything that signs like one (`gsomia.crypto.NodeKeys.signer`)."""

    def sign(self, data: bytes) -> bytes: ...


BATCH_VERSION = 1
_CONTEXT = b"gsomia-feed-batch/1\x00"


def merkle_root(frames: Sequence[bytes]) -> bytes:
    """The RFC 9162 tree's root (crypto/merkle.py, which signed records share)."""
    if not frames:
        raise InvalidBatch("a batch holds at least one frame")
    return merkle.tree_root(frames)


def inclusion_proof(frames: Sequence[bytes], index: int) -> list[tuple[bool, bytes]]:
    """Sibling hashes from leaf to root; the flag says the sibling sits on the left."""
    if not 0 <= index < len(frames):
        raise IndexError(index)
    _, paths = merkle.inclusion_paths(frames)
    sides, at, width = [], index, len(frames)
    while width > 1:  # a level where the node has a sibling adds one to the path; an odd last node none
        if at ^ 1 < width:
            sides.append(bool(at & 1))
        at, width = at // 2, (width + 1) // 2
    return list(zip(sides, paths[index], strict=True))


def verify_inclusion(frame: bytes, proof: Sequence[tuple[bool, bytes]], root: bytes) -> None:
    h = merkle.leaf_hash(frame)
    for on_left, sibling in proof:
        h = merkle.node_hash(sibling, h) if on_left else merkle.node_hash(h, sibling)
    if h != root:
        raise InvalidBatch("frame is not in the signed batch")


def _signed_bytes(signer: str, number: int, count: int, root: bytes, channel: bytes) -> bytes:
    # `channel` binds the signature to one connection (a nonce the receiver chose): a batch captured
    # on one connection cannot be replayed into another.
    return _CONTEXT + cbor2.dumps([signer, number, count, root, channel])


@dataclass(frozen=True, slots=True)
class SignedBatch:
    signer: str          # the node that signed this hop (a party's node id)
    number: int          # per signer and connection, increasing: shows a dropped batch
    root: bytes
    signature: bytes
    frames: tuple[bytes, ...]

    def encode(self) -> bytes:
        return cbor2.dumps([BATCH_VERSION, self.signer, self.number, self.root, self.signature,
                            list(self.frames)])


def sign_batch(frames: Sequence[bytes], key: SigningKey, signer: str, number: int,
               channel: bytes = b"") -> SignedBatch:
    root = merkle_root(frames)
    signature = key.sign(_signed_bytes(signer, number, len(frames), root, channel))
    return SignedBatch(signer, number, root, signature, tuple(frames))


def decode_batch(data: bytes) -> SignedBatch:
    try:
        items = cbor2.loads(data)
    except Exception as bad:  # cbor2 raises several unrelated types for hostile bytes
        raise InvalidBatch(f"batch is not CBOR: {bad}") from None
    if (not isinstance(items, list) or len(items) != 6 or items[0] != BATCH_VERSION
            or not isinstance(items[1], str) or not isinstance(items[2], int)
            or not isinstance(items[3], bytes) or not isinstance(items[4], bytes)
            or not isinstance(items[5], list) or not all(isinstance(f, bytes) for f in items[5])):
        raise InvalidBatch("batch is not a version 1 signed batch")
    return SignedBatch(items[1], items[2], items[3], items[4], tuple(items[5]))


def verify_batch(batch: SignedBatch, key: Ed25519PublicKey, channel: bytes = b"") -> None:
    """Raises InvalidBatch unless the frames hash to the root and the root is signed by `key`."""
    if merkle_root(batch.frames) != batch.root:
        raise InvalidBatch("frames do not hash to the signed root")
    try:
        key.verify(batch.signature, _signed_bytes(batch.signer, batch.number, len(batch.frames), batch.root, channel))
    except InvalidSignature:
        raise InvalidBatch(f"batch signature does not verify for {batch.signer}") from None


class BatchSigner:
    """Numbers and signs the batches one sender emits."""

    def __init__(self, key: SigningKey, signer: str) -> None:
        self._key = key
        self.signer = signer
        self._number = 0

    def sign(self, frames: Sequence[bytes], channel: bytes = b"") -> SignedBatch:
        self._number += 1
        return sign_batch(frames, self._key, self.signer, self._number, channel)
