"""TAK Protocol Version 1 (protobuf `TakMessage`, through the `takproto` package) ⇄ Cursor-on-Target XML.

Two framings of the same protobuf: the *stream* framing TAK clients use over TCP/TLS (0xBF, a varint
length, the message) and the *mesh* header of UDP/multicast datagrams (0xBF 0x01 0xBF, the message, no
length: a datagram is its own bound). Input is bounded before anything is parsed (`MAX_EVENT_BYTES`, the
same cap as CoT XML), and a TakMessage becomes CoT XML built here, escaped, so that one parser checks
every event whichever way it came (`cot.parse_cot`: defusedxml, our label detail). takproto's own
XML→protobuf converter is used only on XML this node wrote (it parses with the standard library).

A streaming connection starts in XML; a client that asks (`t-x-takp-q` with `<TakRequest version="1"/>`)
is answered `t-x-takp-r` and both directions speak protobuf from then on (TAK's negotiation).
"""

from __future__ import annotations

import asyncio
from xml.sax.saxutils import quoteattr

import takproto  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from takproto.proto import TakMessage  # type: ignore[import-untyped]

from gsomia.feed.cot import MAX_EVENT_BYTES, cot_time
from gsomia.feed.errors import CotError

STREAM_MAGIC = 0xBF
MESH_HEADER = b"\xbf\x01\xbf"
MAX_VARINT_BYTES = 4  # 4 × 7 bits covers far more than MAX_EVENT_BYTES
TYPE_PROTOCOL_REQUEST = "t-x-takp-q"
TYPE_PROTOCOL_RESPONSE = "t-x-takp-r"


async def read_stream_payload(reader: asyncio.StreamReader) -> bytes:
    """After the 0xBF a caller has read: the varint length, bounded, then exactly that many bytes."""
    size, shift = 0, 0
    for _ in range(MAX_VARINT_BYTES):
        byte = (await reader.readexactly(1))[0]
        size |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    else:
        raise CotError("TAK frame length is not a short varint")
    if not 0 < size <= MAX_EVENT_BYTES:
        raise CotError(f"TAK frame of {size} bytes: outside 1..{MAX_EVENT_BYTES}")
    return await reader.readexactly(size)


def message_from_payload(payload: bytes) -> TakMessage:
    if len(payload) > MAX_EVENT_BYTES:
        raise CotError(f"TAK message is {len(payload)} bytes, over the {MAX_EVENT_BYTES} limit")
    message = TakMessage()
    try:
        message.ParseFromString(payload)
    except DecodeError as bad:
        raise CotError(f"not a TAK protobuf message: {bad}") from None
    if not message.HasField("cotEvent"):
        raise CotError("TAK message carries no CoT event")
    return message


def message_from_mesh(datagram: bytes) -> TakMessage:
    """A mesh (UDP) datagram: the 3-byte header, then the message."""
    if not datagram.startswith(MESH_HEADER):
        raise CotError("not a TAK mesh datagram (header 0xBF 0x01 0xBF)")
    return message_from_payload(datagram[len(MESH_HEADER):])


def message_from_stream_frame(frame: bytes) -> TakMessage:
    """One whole stream frame held in memory (0xBF, varint length, message): for tests and tools."""
    if not frame or frame[0] != STREAM_MAGIC:
        raise CotError("not a TAK stream frame (magic byte 0xBF)")
    size, shift, at = 0, 0, 1
    while at < min(len(frame), 1 + MAX_VARINT_BYTES):
        byte = frame[at]
        size |= (byte & 0x7F) << shift
        shift, at = shift + 7, at + 1
        if not byte & 0x80:
            break
    if size != len(frame) - at:
        raise CotError("TAK stream frame length does not match its payload")
    return message_from_payload(frame[at:])


def event_xml(message: TakMessage) -> bytes:
    """The CoT `<event>` a TakMessage stands for; its free-form detail (`xmlDetail`, where our label rides)
    is passed on as it came, for the CoT parser to check with everything else."""
    ev = message.cotEvent
    detail = ev.detail
    track = ""
    if detail.HasField("track"):
        track = f'<track speed="{detail.track.speed!r}" course="{detail.track.course!r}"/>'
    return (
        f'<event version="2.0" uid={quoteattr(ev.uid)} type={quoteattr(ev.type)} how={quoteattr(ev.how)}'
        f' time="{cot_time(ev.sendTime / 1000)}" start="{cot_time(ev.startTime / 1000)}"'
        f' stale="{cot_time(ev.staleTime / 1000)}"><point lat="{ev.lat!r}" lon="{ev.lon!r}" hae="{ev.hae!r}"'
        f' ce="{ev.ce!r}" le="{ev.le!r}"/><detail>{detail.xmlDetail}{track}</detail></event>'
    ).encode()


def event_type(message: TakMessage) -> str:
    return str(message.cotEvent.type)


def stream_frame(event: bytes) -> bytes:
    """CoT XML this node wrote, as a TAK stream frame."""
    return bytes(takproto.xml2proto(event, takproto.TAKProtoVer.STREAM))


def mesh_datagram(event: bytes) -> bytes:
    """CoT XML this node wrote, as a TAK mesh datagram."""
    return bytes(takproto.xml2proto(event, takproto.TAKProtoVer.MESH))


def protocol_response(uid: str, time: float) -> bytes:
    """TAK's answer to a client's protocol request: protobuf from now on (sent in XML, the last XML)."""
    t = cot_time(time)
    return (f'<event version="2.0" uid={quoteattr(uid)} type="{TYPE_PROTOCOL_RESPONSE}" how="m-g" time="{t}"'
            f' start="{t}" stale="{cot_time(time + 60)}"><point lat="0.0" lon="0.0" hae="0.0" ce="9999999.0"'
            f' le="9999999.0"/><detail><TakControl><TakResponse status="true"/></TakControl></detail></event>'
            ).encode()
