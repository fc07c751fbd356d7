"""Wire codec: round trips for every message kind, labels announced once, hostile frames refused."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gsomia.domain.tracks import (
    EndOfTrack,
    ImpactPrediction,
    LaunchEvent,
    Position,
    TrackMessage,
    TrackUpdate,
    Uncertainty,
    Velocity,
    label_digest,
)
from gsomia.feed.errors import UnknownLabel, WireError
from gsomia.feed.wire import LabelParser, WireDecoder, WireEncoder, encode_label, encode_message

from .helpers import make_label

LABEL = make_label()
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
positions = st.builds(Position, st.floats(-90, 90), st.floats(-180, 180), finite)
errors = st.builds(Uncertainty, finite, finite,
                   st.none() | st.tuples(finite, finite, finite, finite, finite, finite))
bodies = st.one_of(
    st.builds(LaunchEvent, positions, errors),
    st.builds(TrackUpdate, positions, st.builds(Velocity, finite, finite, finite), errors),
    st.builds(ImpactPrediction, positions, errors, finite),
    st.builds(EndOfTrack, st.text(max_size=20)),
)
messages = st.builds(TrackMessage, st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True),
                     st.integers(1, 2**53), st.sampled_from(["KOR", "USA", "JPN"]), st.text(max_size=20),
                     finite, finite, st.just(LABEL), bodies)


@given(messages)
def test_every_message_round_trips(msg: TrackMessage) -> None:
    # hypothesis and fixtures do not mix; the parser is rebuilt here (cheap).
    from gsomia.data import load_catalog
    from gsomia.domain.labels import Label
    schemes = load_catalog().schemes
    decoder = WireDecoder(lambda b: Label.from_canonical(b, schemes))
    frames = WireEncoder().encode(msg)
    assert decoder.decode(frames[0]) is None  # the label frame
    assert decoder.decode(frames[1]) == msg


def test_label_is_announced_once_per_connection(parse_label: LabelParser) -> None:
    enc = WireEncoder()
    msg = TrackMessage("S1", 1, "KOR", "radar", 1.0, 6.0, LABEL, EndOfTrack("lost"))
    assert len(enc.encode(msg)) == 2
    assert len(enc.encode(msg)) == 1
    enc.forget()
    assert len(enc.encode(msg)) == 2
    # The per-message frame names the label by 16 bytes and stays small.
    assert len(encode_message(msg)) < 80


def test_message_before_its_label_is_refused(parse_label: LabelParser) -> None:
    msg = TrackMessage("S1", 1, "KOR", "radar", 1.0, 6.0, LABEL, EndOfTrack("lost"))
    with pytest.raises(UnknownLabel) as raised:
        WireDecoder(parse_label).decode(encode_message(msg))
    assert raised.value.digest == msg.digest


def test_label_frame_cannot_rename_another_label(parse_label: LabelParser) -> None:
    other = make_label("III")
    forged = cbor2.dumps([1, 0, label_digest(LABEL), other.canonical_bytes()])
    with pytest.raises(WireError):
        WireDecoder(parse_label).decode(forged)


@pytest.mark.parametrize("frame", [
    b"", b"\xff\xff", cbor2.dumps("hello"), cbor2.dumps([2, 1]), cbor2.dumps([1, 9, "s", 1, "KOR", "x", 0.0, 0.0]),
    cbor2.dumps([1, 0, b"x", "not bytes"]),
])
def test_malformed_frames_raise_wire_error(frame: bytes, parse_label: LabelParser) -> None:
    with pytest.raises(WireError):
        WireDecoder(parse_label).decode(frame)


def test_wrong_body_shape_raises_wire_error(parse_label: LabelParser) -> None:
    decoder = WireDecoder(parse_label)
    decoder.decode(encode_label(LABEL))
    msg = TrackMessage("S1", 1, "KOR", "radar", 1.0, 6.0, LABEL, EndOfTrack("lost"))
    items = cbor2.loads(encode_message(msg))
    with pytest.raises(WireError):
        decoder.decode(cbor2.dumps([*items[:9], "too", "many"]))
    with pytest.raises(WireError):
        decoder.decode(cbor2.dumps([*items[:3], -1, *items[4:]]))


def test_swapping_the_label_digest_in_place_equals_re_encoding() -> None:
    # The node re-marks received messages by swapping the 16-byte digest in the frame (node._ingest).
    from dataclasses import replace
    msg = TrackMessage("KOR-T1", 42, "KOR", "radar", 1.5, 6.5, LABEL,
                       TrackUpdate(Position(39.0, 130.0, 1e5), Velocity(1.0, 2.0, 3.0), Uncertainty(1.0, 2.0)))
    other = make_label("III")
    held = replace(msg, label=other, digest=label_digest(other))
    swapped = encode_message(msg).replace(b"\x50" + msg.digest, b"\x50" + held.digest, 1)
    assert swapped == encode_message(held)
