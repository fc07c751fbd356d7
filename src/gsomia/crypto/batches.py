"""Batch signing: one signature over the RFC 9162 Merkle root of many entries.

The one batch-signing primitive of gsomia, used by federation and feed alike:

* signed records in a batch (`records.sign_records`): the receipts a node gives for a batch of peer
  messages and the peer messages it sends in one batch (services/inbound.py, services/peer_messages.py);
  the entries are the records' payloads, the root is framed as a COSE Sig_structure (RFC 9942);
* the feed's signed batches of frames (feed/batch_signing.py, its wire format; feed/link.py and
  feed/node.py): the entries are the frames, the root is framed with the feed's context string, the
  signer, the batch number, the count and the connection's nonce.

Each side keeps its wire format; what is the same for both lives here: the tree (crypto/merkle.py), the
signature over the framed root, and its verification from the entries or from one entry's inclusion
path. The framings are domain-separated from each other (a COSE Sig_structure starts with a CBOR array
head, the feed's with its context string), so a signature made for one cannot pass for the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gsomia.crypto import _cose, merkle, verified
from gsomia.crypto._cose import CoseError
from gsomia.crypto.errors import InvalidBatchSignature
from gsomia.crypto.keys import PublicKeys

Framing = Callable[[bytes], bytes]
"""What exactly is signed for a given root: the caller's domain-separated wrapping of the 32 bytes."""


class BatchSigningKey(Protocol):
    """Anything that signs: a `cryptography` Ed25519 private key, or `NodeKeys.signer` (which may be a
    PKCS#11 token), so that a node's private key never leaves the crypto layer."""

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class BatchSignature:
    root: bytes          # RFC 9162 Merkle tree root of the entries
    to_be_signed: bytes  # framing(root): the bytes the signature covers
    signature: bytes


@dataclass(frozen=True, slots=True)
class Inclusion:
    """One entry of a signed batch with its inclusion path (RFC 9162 §2.1.3): enough to recompute the
    root without the other entries."""

    entry: bytes
    index: int
    size: int
    path: Sequence[bytes]


def sign_batch(entries: Sequence[bytes], key: BatchSigningKey, framing: Framing) -> BatchSignature:
    """One signature by `key` over framing(Merkle root of `entries`); at least one entry."""
    if not entries:
        raise InvalidBatchSignature("a batch holds at least one entry")
    root = merkle.tree_root(entries)
    to_be_signed = framing(root)
    return BatchSignature(root, to_be_signed, key.sign(to_be_signed))


def verify_batch(entries: Sequence[bytes] | Inclusion, signature: bytes, key: PublicKeys | Ed25519PublicKey,
                 framing: Framing) -> bytes:
    """The root that `entries` (all of a batch, or one with its inclusion path) lead to, if `signature`
    is `key`'s over framing(root); InvalidBatchSignature otherwise. The root is always recomputed here,
    never taken from the sender. A `PublicKeys` signer (records) is checked once per process
    (crypto/verified.py); an Ed25519 key (the feed's hop keys) every time, as before."""
    try:
        if isinstance(entries, Inclusion):
            root = merkle.root_from_inclusion(entries.entry, entries.index, entries.size, entries.path)
        elif entries:
            root = merkle.tree_root(entries)
        else:
            raise InvalidBatchSignature("a batch holds at least one entry")
        if isinstance(key, PublicKeys):
            verified.VERIFIED.verify(key, framing(root), signature)
        else:
            _cose.verify_signature(_cose.EDDSA, key, signature, framing(root))
    except merkle.InvalidInclusion as bad:
        raise InvalidBatchSignature(str(bad)) from None
    except CoseError as bad:
        raise InvalidBatchSignature(str(bad)) from None
    return root
