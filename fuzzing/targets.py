"""What the fuzzers feed: every parser and decoder of gsomia that takes outside bytes, each with the one
error it documents for bad input. Anything else a target raises is a finding.

    peer-message      services.peer_messages.open_message    ProtocolError (or an Unreadable result)
    peer-payload      services.messages.decode (every kind)  wire.Malformed
    record            crypto.verify_record                   InvalidRecord
    record-body       services.record_bodies.read            InvalidRecord, wire.Malformed
    envelope          crypto.open                            InvalidEnvelope
    feed-frame        feed.wire.WireDecoder.decode/header    FeedError
    feed-batch        feed.batch_signing.decode_batch        FeedError
    cot               feed.cot.parse_cot                     FeedError (CotError)
    label             domain.labels.Label.from_canonical     DomainError
    policy-request    domain.parsing.request_from_dict       DomainError (JSON first: ValueError)
    api-json          edge.limits.text_problem + the API's ItemIn model   ValidationError
    tak-frame         feed.tak (stream frame, mesh datagram) → cot.parse_cot   FeedError (CotError)
    stanag4774        domain.stanag4774.read_label           DomainError (LabelFormatError)
    stanag4778        domain.stanag4778.unbind               DomainError (BindingError)

Each target takes the fuzzer's bytes; the first byte picks a variant where a target has several (a kind,
a function). Seeds (`seeds()`) are valid inputs, so that mutation starts from what parses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from gsomia.api.schemas import ItemIn
from gsomia.crypto import InvalidEnvelope, InvalidRecord, KeyDirectory, NodeKeys, open, seal, sign_record, verify_record
from gsomia.data import load_catalog
from gsomia.domain.errors import DomainError
from gsomia.domain.labels import Label
from gsomia.domain.parsing import label_from_dict, request_from_dict
from gsomia.domain.stanag4774 import read_label, write_label
from gsomia.domain.stanag4778 import EDDSA_ED25519, bind, unbind
from gsomia.domain.tracks import LaunchEvent, Position, TrackMessage, TrackUpdate, Uncertainty, Velocity
from gsomia.edge.limits import text_problem
from gsomia.feed.batch_signing import decode_batch, sign_batch
from gsomia.feed.cot import parse_cot
from gsomia.feed.errors import FeedError
from gsomia.feed.tak import event_xml, message_from_mesh, message_from_stream_frame, stream_frame
from gsomia.feed.wire import WireDecoder, encode_label, encode_message
from gsomia.services import messages, record_bodies
from gsomia.services.messages import KINDS, decode
from gsomia.services.peer_messages import ProtocolError, open_message, sign_message
from gsomia.services.wire import Malformed

AT = datetime(2026, 12, 7, tzinfo=timezone.utc)
Target = Callable[[bytes], None]


@cache
def _keys() -> tuple[NodeKeys, NodeKeys]:
    return NodeKeys.generate("KOR", "kor-fuzz", at=AT), NodeKeys.generate("JPN", "jpn-fuzz", at=AT)


@cache
def _label() -> Label:
    return label_from_dict({"originator": "KOR", "classification": "KOR:II", "releasable_to": ["JPN", "USA"],
                            "topics": ["dprk-missile"], "purpose": "fuzzing"}, load_catalog().schemes, AT)


def peer_message(data: bytes) -> None:
    kor, _ = _keys()
    try:
        open_message(data, trusted=KeyDirectory([kor.public]))
    except ProtocolError:
        pass


def peer_payload(data: bytes) -> None:
    kinds = sorted(KINDS)
    if not data:
        return
    try:
        decode(kinds[data[0] % len(kinds)], data[1:])
    except Malformed:
        pass


def record(data: bytes) -> None:
    kor, _ = _keys()
    try:
        verify_record(data, trusted=KeyDirectory([kor.public]))
    except InvalidRecord:
        pass


def record_body(data: bytes) -> None:
    kinds = (record_bodies.ConsentBody, record_bodies.CompromiseReportBody, record_bodies.CompromiseResultBody,
             record_bodies.CheckpointBody, record_bodies.DestructionCertificateBody, record_bodies.ReceiptBody)
    if not data:
        return
    kor, _ = _keys()
    try:
        record_bodies.read(data[1:], kinds[data[0] % len(kinds)], trusted=KeyDirectory([kor.public]))
    except (InvalidRecord, Malformed):
        pass


def envelope(data: bytes) -> None:
    kor, jpn = _keys()
    try:
        open(data, recipient=jpn, senders=KeyDirectory([kor.public]))
    except InvalidEnvelope:
        pass


def _parse_label(raw: bytes) -> Label:
    return Label.from_canonical(raw, load_catalog().schemes)


def feed_frame(data: bytes) -> None:
    decoder = WireDecoder(_parse_label)
    decoder.add_label(_label(), bytes(16))
    try:
        if data[:1] == b"h":
            decoder.header(data[1:])
        else:
            decoder.decode(data[1:])
    except FeedError:
        pass


def feed_batch(data: bytes) -> None:
    try:
        decode_batch(data)
    except FeedError:
        pass


def cot(data: bytes) -> None:
    try:
        parse_cot(data, load_catalog().schemes)
    except FeedError:
        pass


def label(data: bytes) -> None:
    try:
        Label.from_canonical(data, load_catalog().schemes)
    except DomainError:
        pass


def policy_request(data: bytes) -> None:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return
    try:
        request_from_dict(value, load_catalog())
    except DomainError:
        pass


def api_json(data: bytes) -> None:
    if text_problem(data) is not None:
        return  # refused at the edge, before any model sees it
    try:
        ItemIn.model_validate_json(data)
    except ValidationError:
        pass


def tak_frame(data: bytes) -> None:
    """First byte even: a stream frame; odd: a mesh datagram; either way on to the CoT parser."""
    read = message_from_stream_frame if not data or data[0] % 2 == 0 else message_from_mesh
    try:
        parse_cot(event_xml(read(data[1:])), load_catalog().schemes)
    except FeedError:
        pass


def stanag4774(data: bytes) -> None:
    try:
        read_label(data, load_catalog().schemes)
    except DomainError:
        pass


def _accept(key_name: str, algorithm: str, signed: bytes, signature: bytes) -> None:
    """The fuzzer reaches past the signature: what follows it must be as robust as what precedes it."""


def stanag4778(data: bytes) -> None:
    try:
        unbind(data, load_catalog().schemes, _accept)
    except DomainError:
        pass


TARGETS: dict[str, Target] = {
    "peer-message": peer_message, "peer-payload": peer_payload, "record": record, "record-body": record_body,
    "envelope": envelope, "feed-frame": feed_frame, "feed-batch": feed_batch, "cot": cot, "label": label,
    "policy-request": policy_request, "api-json": api_json, "tak-frame": tak_frame, "stanag4774": stanag4774,
    "stanag4778": stanag4778,
}


def _cot_event() -> bytes:
    from gsomia.domain.tracks import EndOfTrack, TrackMessage
    from gsomia.feed.cot import CotWriter

    return CotWriter().write(TrackMessage("KOR-1", 1, "KOR", "s", 1.0, 2.0, _label(), EndOfTrack("impact")))


def _payloads() -> list[messages.Payload]:
    """One message of several kinds, as a node sends them."""
    kor, jpn = _keys()
    envelope = seal(b"track 42", label=_label().canonical_bytes(), sender=kor, recipients=[jpn.public], at=AT)
    consent = record_bodies.sign(record_bodies.ConsentBody(
        id="CON-1", by="KOR", to="USA", item_ref="KOR-1", topics=None, until=None,
        granted_at=AT.isoformat(), purpose="TISA relay"), signer=kor, at=AT)
    return [
        messages.ItemMessage("KOR-1", "KOR", envelope, "JPN", "USA", (consent,), ("KOR",),
                             agreement="usa-jpn-kor-tisa-2014", version="0" * 64),
        messages.ReceiptMessage("KOR-1", sign_record("receipt", {"item": "KOR-1"}, signer=jpn, at=AT)),
        messages.ConsentRequest("CON-2", "KOR-1", "USA", "relay to the hub"),
        messages.ConsentAnswer("CON-1", True, consent),
        messages.RecallMessage("KOR-1", "KOR", "superseded"),
        messages.ReclassificationMessage("KOR-1", "KOR", "KOR:I", "new assessment"),
        messages.AgreementVersionMessage("jpn-kor-gsomia-2016", "1" * 64, "2" * 64, ("KOR-termination-0",),
                                         ("3" * 64,)),
    ]


def _track(body: LaunchEvent | TrackUpdate, seq: int) -> TrackMessage:
    return TrackMessage("KOR-S1-1", seq, "KOR", "KOR-S1", 1.8e9 + seq, 1.8e9 + 600, _label(), body, bytes(16))


def _frames() -> list[bytes]:
    error = Uncertainty(50.0, 80.0)
    return [encode_message(_track(LaunchEvent(Position(39.0, 125.7, 0.0), error), 1)),
            encode_message(_track(TrackUpdate(Position(39.2, 127.0, 9e4), Velocity(2e3, 1e2, 5e2), error), 2))]


def seeds(name: str) -> list[bytes]:
    """Valid inputs of each target, as gsomia's own encoders write them, to start the mutations from."""
    kor, jpn = _keys()
    kinds = sorted(KINDS)
    made: dict[str, Callable[[], list[bytes]]] = {
        "envelope": lambda: [seal(b"track 42", label=_label().canonical_bytes(), sender=kor,
                                  recipients=[jpn.public], at=AT)],
        "record": lambda: [sign_record("consent", {"id": "c", "by": "KOR"}, signer=kor, at=AT)],
        "label": lambda: [_label().canonical_bytes()],
        "peer-payload": lambda: [bytes([kinds.index(p.kind)]) + messages.encode(p) for p in _payloads()],
        "peer-message": lambda: [sign_message(kor, f"MSG-{n}", p.kind, "JPN", messages.encode(p), AT)
                                 for n, p in enumerate(_payloads())],
        "record-body": lambda: [bytes([0]) + record_bodies.sign(record_bodies.ConsentBody(
            id="CON-1", by="KOR", to="USA", item_ref=None, topics='["dprk-missile"]', until=None,
            granted_at=AT.isoformat(), purpose="TISA relay"), signer=kor, at=AT)],
        "feed-frame": lambda: [b"m" + frame for frame in _frames()] + [b"h" + frame for frame in _frames()]
                              + [b"m" + encode_label(_label())],
        "feed-batch": lambda: [sign_batch([encode_label(_label()), *_frames()], Ed25519PrivateKey.generate(),
                                          "KOR-node", 1).encode()],
        "cot": lambda: [b'<event version="2.0" uid="KOR-1" type="a-h-A-M-B" time="2026-12-07T00:00:00Z" '
                        b'start="2026-12-07T00:00:00Z" stale="2026-12-07T00:05:00Z" how="m-r">'
                        b'<point lat="39.0" lon="125.7" hae="0" ce="50" le="50"/></event>'],
        "policy-request": lambda: [json.dumps({"action": "release", "at": "2024-06-01T00:00:00Z", "subject": {
            "party": "KOR", "clearance": "KOR:II", "need_to_know": ["dprk-missile"],
            "roles": ["releasing_official"]}, "item": {"originator": "KOR", "classification": "KOR:II",
            "releasable_to": ["JPN"], "topics": ["dprk-missile"], "purpose": "p"}, "recipient": "JPN"}).encode()],
        "tak-frame": lambda: [b"\x00" + stream_frame(_cot_event()), b"\x01" + b"\xbf\x01\xbf"
                              + stream_frame(_cot_event())[2:]],
        "stanag4774": lambda: [write_label(_label()).encode()],
        "stanag4778": lambda: [bind(_label(), b"track 42", media_type="text/plain", key_name=kor.kid.hex(),
                                    algorithm=EDDSA_ED25519, sign=kor.signer.sign)],
        "api-json": lambda: [json.dumps({"classification": "KOR:II", "releasable_to": ["JPN"],
                                         "topics": ["dprk-missile"], "purpose": "p", "content_text": "x"}).encode()],
    }
    return made.get(name, lambda: [b""])()


def run_case(name: str, data: bytes) -> Any:
    """One input through one target: what the regression tests call."""
    return TARGETS[name](data)
