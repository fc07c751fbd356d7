"""The per-connection protocol: batches bound to their connection, in order, from the expected node."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gsomia.domain.tracks import EndOfTrack, TrackMessage
from gsomia.feed.batch_signing import BatchSigner
from gsomia.feed.errors import FeedError, InvalidBatch
from gsomia.feed.link import Receiver, new_nonce
from gsomia.feed.wire import LabelParser, encode_label, encode_message

from .helpers import make_label

KEY = Ed25519PrivateKey.generate()
LABEL = make_label()


def frames(seq: int) -> list[bytes]:
    msg = TrackMessage("KOR-T1", seq, "KOR", "radar", 1.0, 2.0, LABEL, EndOfTrack("x"))
    return [encode_label(LABEL), encode_message(msg)]


def test_batches_open_in_order_on_their_own_connection(parse_label: LabelParser) -> None:
    nonce = new_nonce()
    receiver = Receiver({"KOR-node": KEY.public_key()}, "KOR-node", parse_label, nonce)
    signer = BatchSigner(KEY, "KOR-node")
    first, second = signer.sign(frames(1), nonce).encode(), signer.sign(frames(2), nonce).encode()
    assert [r.msg.seq for r in receiver.open(first)] == [1]
    assert [r.msg.seq for r in receiver.open(second)] == [2]
    with pytest.raises(InvalidBatch, match="replayed or reordered"):
        receiver.open(first)
    # The same batch recorded here is worthless on another connection (another nonce).
    elsewhere = Receiver({"KOR-node": KEY.public_key()}, "KOR-node", parse_label, new_nonce())
    with pytest.raises(InvalidBatch):
        elsewhere.open(second)


def test_a_batch_signed_by_another_node_is_refused(parse_label: LabelParser) -> None:
    nonce = new_nonce()
    other = Ed25519PrivateKey.generate()
    receiver = Receiver({"KOR-node": KEY.public_key(), "JPN-node": other.public_key()}, "KOR-node",
                        parse_label, nonce)
    with pytest.raises(InvalidBatch, match="signed as JPN-node"):
        receiver.open(BatchSigner(other, "JPN-node").sign(frames(1), nonce).encode())
    with pytest.raises(InvalidBatch):  # claims KOR-node but signed with the other key
        receiver.open(BatchSigner(other, "KOR-node").sign(frames(1), nonce).encode())
    with pytest.raises(FeedError, match="not a trusted"):
        Receiver({}, "USA-hub", parse_label, nonce)
