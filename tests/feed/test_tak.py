"""TAK Protocol Version 1 frames (takproto) in and out: stream framing and mesh header, bounded before parsing,
our label riding in the protobuf's xmlDetail and checked by the one CoT parser."""

from __future__ import annotations

import asyncio

import pytest
import takproto  # type: ignore[import-untyped]

from gsomia.data import load_catalog
from gsomia.domain.catalog import Catalog
from gsomia.domain.tracks import Position, TrackMessage, TrackUpdate, Uncertainty, Velocity
from gsomia.feed import tak
from gsomia.feed.cot import MAX_EVENT_BYTES, CotWriter, parse_cot
from gsomia.feed.errors import CotError

from .helpers import make_label


def event() -> tuple[TrackMessage, bytes]:
    body = TrackUpdate(Position(39.25, 127.5, 80_000.0), Velocity(1800.0, 50.0, -300.0), Uncertainty(250.0, 400.0))
    msg = TrackMessage("KOR-T9", 4, "KOR", "KOR-S1", 1_800_000_000.25, 1_800_000_060.0, make_label("II"), body)
    return msg, CotWriter().write(msg)


@pytest.mark.parametrize("framing", ["stream", "mesh"])
def test_frames_round_trip_through_takproto(catalog: Catalog, framing: str) -> None:
    msg, xml = event()
    if framing == "stream":
        frame = tak.stream_frame(xml)
        assert frame[0] == 0xBF and frame[1:3] != b"\x01\xbf"
        ours = tak.message_from_stream_frame(frame)
    else:
        frame = tak.mesh_datagram(xml)
        assert frame.startswith(b"\xbf\x01\xbf")
        ours = tak.message_from_mesh(frame)
    theirs = takproto.parse_proto(bytearray(frame))  # the reference decoder reads what we wrote
    assert theirs.cotEvent.uid == "KOR-T9" and theirs.cotEvent.lat == pytest.approx(39.25)
    assert ours == theirs
    back = parse_cot(tak.event_xml(ours), catalog.schemes)
    assert back == msg  # label, sequence, times, velocity: all carried


def test_takproto_frames_in_from_its_own_encoder(catalog: Catalog) -> None:
    """A frame as takproto (what pytak sends) encodes a plain TAK event: read by our decoder, times in ms."""
    xml = (b'<event version="2.0" uid="TAK-1" type="a-h-A-M" how="m-g" time="2026-11-22T10:00:00.500000Z"'
           b' start="2026-11-22T10:00:00.500000Z" stale="2026-11-22T10:01:00.000000Z"><point lat="38.5" lon="128"'
           b' hae="100" ce="20" le="30"/><detail><track speed="250" course="90"/></detail></event>')
    frame = bytes(takproto.xml2proto(xml, takproto.TAKProtoVer.STREAM))
    decoded = tak.message_from_stream_frame(frame)
    again = tak.event_xml(decoded)
    assert b'uid="TAK-1"' in again and b'speed="250.0"' in again and b"10:00:00.500000Z" in again
    with pytest.raises(CotError, match="no gsomia label"):
        parse_cot(again, catalog.schemes)  # plain TAK input needs the endpoint's configured label


def test_frames_are_bounded_before_parsing() -> None:
    async def read(data: bytes) -> bytes:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await tak.read_stream_payload(reader)

    too_long = MAX_EVENT_BYTES + 1
    varint = bytes([(too_long & 0x7F) | 0x80, (too_long >> 7) & 0x7F | 0x80, too_long >> 14])
    with pytest.raises(CotError, match="outside"):
        asyncio.run(read(varint))  # refused on the length alone: nothing read or allocated for the body
    with pytest.raises(CotError, match="short varint"):
        asyncio.run(read(b"\xff\xff\xff\xff\xff"))
    with pytest.raises(CotError, match="not a TAK protobuf"):
        tak.message_from_payload(b"\xff\xff\xff")
    with pytest.raises(CotError, match="over the"):
        tak.message_from_payload(b"\x00" * too_long)
    with pytest.raises(CotError, match="mesh"):
        tak.message_from_mesh(b"\xbf\x01")
    with pytest.raises(CotError, match="not acceptable XML"):  # the fuzzer's find: an unknown encoding
        parse_cot(b'<?xml version="1.0" encoding="UTF-B"?><event/>', load_catalog().schemes)
    with pytest.raises(CotError, match="length does not match"):
        tak.message_from_stream_frame(tak.stream_frame(event()[1])[:-1])
