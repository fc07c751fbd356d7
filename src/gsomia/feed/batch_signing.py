"""One Ed25519 signature over a Merkle root per batch of frames, so signing cost does not cap the rate.

Ed25519 verifies ~8.4 k/s per core here: one signature per message would cap a hop below the 5,000
messages a second we must carry, twice over with sign + verify. A batch is whatever the sender has
queued when it is ready to send, so at low rates a batch is one frame (no added latency) and under
load batches grow and the per-message cost falls.

Merkle rather than a hash of the concatenation: a single frame can later be shown to belong to a
signed batch (`crypto.batches.Inclusion`) without the rest, e.g. when one message is disputed or audited.
The tree and the signature over its root are the crypto layer's one batch signing (crypto/batches.py),
which signed records in a batch (federation's receipts and peer messages) use too; this module keeps
only the feed's wire format: what frames the root (`_signed_bytes`) and how a batch is encoded.

Keys arrive as `cryptography` key objects, or (in a running node) the crypto layer's signer for the
node's current key, so the private key never leaves the crypto layer; the crypto layer owns key files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.crypto import BatchSigningKey, InvalidBatchSignature
from gsomia.crypto import sign_batch as sign_root
from gsomia.crypto import verify_batch as verify_root
from gsomia.feed.errors import InvalidBatch

BATCH_VERSION = 1
_CONTEXT = b"gsomia-feed-batch/1\x00"


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


def _framing(signer: str, number: int, count: int, channel: bytes) -> Callable[[bytes], bytes]:
    return lambda root: _signed_bytes(signer, number, count, root, channel)


def sign_batch(frames: Sequence[bytes], key: BatchSigningKey, signer: str, number: int,
               channel: bytes = b"") -> SignedBatch:
    if not frames:
        raise InvalidBatch("a batch holds at least one frame")
    signed = sign_root(frames, key, _framing(signer, number, len(frames), channel))
    return SignedBatch(signer, number, signed.root, signed.signature, tuple(frames))


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
    try:
        root = verify_root(batch.frames, batch.signature, key,
                           _framing(batch.signer, batch.number, len(batch.frames), channel))
    except InvalidBatchSignature as bad:
        raise InvalidBatch(f"batch signature does not verify for {batch.signer} ({bad.reason})") from None
    if root != batch.root:  # the signature covers the recomputed root: a carried root that differs is forged
        raise InvalidBatch("frames do not hash to the signed root")


class BatchSigner:
    """Numbers and signs the batches one sender emits."""

    def __init__(self, key: BatchSigningKey, signer: str) -> None:
        self._key = key
        self.signer = signer
        self._number = 0

    def sign(self, frames: Sequence[bytes], channel: bytes = b"") -> SignedBatch:
        self._number += 1
        return sign_batch(frames, self._key, self.signer, self._number, channel)
