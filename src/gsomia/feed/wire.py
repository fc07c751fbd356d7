"""The compact wire form of track messages: one CBOR array per frame.

CBOR (cbor2, already a dependency for COSE) rather than msgpack or JSON: floats stay exact,
bytes need no base64, it has a C extension, and the crypto layer already speaks it.

A stream's label travels once, as a label frame (its canonical bytes), and every message names it
by a 16-byte digest. The encoder is per connection: it sends a label frame the first time a
connection needs it; the decoder refuses a message whose label it has not been given, so a
receiver never guesses a classification.

Frame layout (version 1), positional to stay small:
    label:   [1, 0, digest, canonical_label_bytes]
    message: [1, kind, stream, seq, originator, sensor, time, stale, digest, *body]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import cbor2

from gsomia.domain.labels import Label
from gsomia.domain.tracks import (
    LABEL_DIGEST_SIZE,
    Body,
    EndOfTrack,
    Header,
    ImpactPrediction,
    LaunchEvent,
    Position,
    TrackMessage,
    TrackUpdate,
    Uncertainty,
    Velocity,
)
from gsomia.feed.errors import UnknownLabel, WireError

VERSION = 1
KIND_LABEL = 0
KIND_LAUNCH = 1
KIND_UPDATE = 2
KIND_IMPACT = 3
KIND_END = 4

LabelParser = Callable[[bytes], Label]


def _error(u: Uncertainty) -> list[Any]:
    return [u.ce_m, u.le_m, list(u.covariance) if u.covariance is not None else None]


def _body(body: Body) -> tuple[int, list[Any]]:
    if isinstance(body, TrackUpdate):
        p, v = body.position, body.velocity
        return KIND_UPDATE, [p.lat, p.lon, p.alt_m, v.east, v.north, v.up, *_error(body.error)]
    if isinstance(body, ImpactPrediction):
        p = body.point
        return KIND_IMPACT, [p.lat, p.lon, p.alt_m, *_error(body.error), body.impact_time]
    if isinstance(body, LaunchEvent):
        p = body.point
        return KIND_LAUNCH, [p.lat, p.lon, p.alt_m, *_error(body.error)]
    return KIND_END, [body.reason]


def encode_message(msg: TrackMessage) -> bytes:
    kind, body = _body(msg.body)
    return cbor2.dumps([VERSION, kind, msg.stream, msg.seq, msg.originator, msg.sensor,
                        msg.time, msg.stale, msg.digest, *body])


def encode_label(label: Label) -> bytes:
    canonical = label.canonical_bytes()
    digest = hashlib.sha256(canonical).digest()[:LABEL_DIGEST_SIZE]
    return cbor2.dumps([VERSION, KIND_LABEL, digest, canonical])


class WireEncoder:
    """Encodes for one connection, announcing each label before the first message that uses it."""

    def __init__(self) -> None:
        self._announced: set[bytes] = set()

    def encode(self, msg: TrackMessage) -> list[bytes]:
        frames: list[bytes] = []
        if msg.digest not in self._announced:
            frames.append(encode_label(msg.label))
            self._announced.add(msg.digest)
        frames.append(encode_message(msg))
        return frames

    def forget(self) -> None:
        """After a reconnect the peer holds no labels: announce them all again."""
        self._announced.clear()


_NUMBER = (float, int)


def _numbers(values: list[Any]) -> list[Any]:
    # `type(v) in` rather than isinstance: bool is an int subclass and must not pass as a number,
    # and one check per field is the decoder's hot path at thousands of messages a second.
    for v in values:
        if type(v) not in _NUMBER:
            raise WireError(f"expected a number, got {type(v).__name__}")
    return values


def _str(value: Any) -> str:
    if type(value) is not str:
        raise WireError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _uncertainty(ce: Any, le: Any, cov: Any) -> Uncertainty:
    if cov is None:
        return Uncertainty(ce, le)
    if type(cov) is not list or len(cov) != 6:
        raise WireError("covariance must be six numbers")
    c = _numbers(cov)
    return Uncertainty(ce, le, (c[0], c[1], c[2], c[3], c[4], c[5]))


def _decode_body(kind: int, f: list[Any]) -> Body:
    n = len(f)
    if kind == KIND_UPDATE and n == 9:
        _numbers(f[:8])
        return TrackUpdate(Position(f[0], f[1], f[2]), Velocity(f[3], f[4], f[5]), _uncertainty(f[6], f[7], f[8]))
    if kind == KIND_IMPACT and n == 7:
        _numbers([*f[:5], f[6]])
        return ImpactPrediction(Position(f[0], f[1], f[2]), _uncertainty(f[3], f[4], f[5]), f[6])
    if kind == KIND_LAUNCH and n == 6:
        _numbers(f[:5])
        return LaunchEvent(Position(f[0], f[1], f[2]), _uncertainty(f[3], f[4], f[5]))
    if kind == KIND_END and n == 1:
        return EndOfTrack(_str(f[0]))
    raise WireError(f"frame kind {kind} with {n} body fields is not a known message")


def _check_covariance(cov: Any) -> None:
    if cov is not None and (type(cov) is not list or len(cov) != 6):
        raise WireError("covariance must be six numbers")
    if cov is not None:
        _numbers(cov)


def _check_body(kind: int, f: list[Any]) -> None:
    """The same checks as `_decode_body`, building nothing: what a relay needs before it re-signs."""
    n = len(f)
    if kind == KIND_UPDATE and n == 9:
        _numbers(f[:8])
        _check_covariance(f[8])
    elif kind == KIND_IMPACT and n == 7:
        _numbers(f[:5])
        _numbers(f[6:])
        _check_covariance(f[5])
    elif kind == KIND_LAUNCH and n == 6:
        _numbers(f[:5])
        _check_covariance(f[5])
    elif kind == KIND_END and n == 1:
        _str(f[0])
    else:
        raise WireError(f"frame kind {kind} with {n} body fields is not a known message")


class WireDecoder:
    """Decodes frames from one connection (or several: labels are named by content, not by peer)."""

    def __init__(self, parse_label: LabelParser) -> None:
        self._parse_label = parse_label
        self._labels: dict[bytes, Label] = {}

    def knows(self, digest: bytes) -> bool:
        return digest in self._labels

    def label(self, digest: bytes) -> Label:
        """A label this decoder has been given (KeyError otherwise)."""
        return self._labels[digest]

    def add_label(self, label: Label, digest: bytes) -> None:
        self._labels[digest] = label

    def decode(self, frame: bytes) -> TrackMessage | None:
        """The message in a frame, or None for a label frame (which is remembered)."""
        items = self._items(frame)
        if items is None:
            return None
        stream, seq, originator, sensor, time, stale, label, digest = self._head(items)
        return TrackMessage(stream, seq, originator, sensor, time, stale, label, _decode_body(items[1], items[9:]),
                            digest)

    def header(self, frame: bytes) -> Header | None:
        """A message frame's header, its body checked but not built; None for a label frame (remembered).

        The same checks as `decode`, inlined: a relay runs this for every message it forwards.
        """
        try:
            items = cbor2.loads(frame)
        except Exception as bad:  # cbor2 raises several unrelated types for hostile bytes
            raise WireError(f"frame is not CBOR: {bad}") from None
        if type(items) is not list or len(items) < 10 or items[0] != VERSION or items[1] == KIND_LABEL:
            checked = self._items(frame)  # a label frame, or a malformed one: the general path says which
            if checked is None:
                return None
            items = checked
        _, kind, stream, seq, originator, sensor, time, stale, digest = items[:9]
        label = self._labels.get(digest) if type(digest) is bytes else None
        if label is None:
            raise UnknownLabel(digest if isinstance(digest, bytes) else b"")
        if type(seq) is not int or seq < 0:
            raise WireError("sequence number must be a non-negative integer")
        if type(stream) is not str or type(originator) is not str or type(sensor) is not str:
            raise WireError("stream, originator and sensor must be strings")
        if type(time) not in _NUMBER or type(stale) not in _NUMBER or type(kind) is not int:
            raise WireError("time and stale must be numbers")
        _check_body(kind, items[9:])
        return Header(stream, seq, originator, stale, label, digest)

    def _items(self, frame: bytes) -> list[Any] | None:
        try:
            items = cbor2.loads(frame)
        except Exception as bad:  # cbor2 raises several unrelated types for hostile bytes
            raise WireError(f"frame is not CBOR: {bad}") from None
        if not isinstance(items, list) or len(items) < 3 or items[0] != VERSION:
            raise WireError("frame is not a version 1 feed frame")
        if items[1] == KIND_LABEL:
            self._learn_label(items)
            return None
        if len(items) < 10 or type(items[1]) is not int:
            raise WireError("message frame is too short")
        return items

    def _head(self, items: list[Any]) -> tuple[str, int, str, str, float, float, Label, bytes]:
        _, _, stream, seq, originator, sensor, time, stale, digest = items[:9]
        label = self._labels.get(digest) if isinstance(digest, bytes) else None
        if label is None:
            raise UnknownLabel(digest if isinstance(digest, bytes) else b"")
        if type(seq) is not int or seq < 0:
            raise WireError("sequence number must be a non-negative integer")
        _numbers([time, stale])
        return _str(stream), seq, _str(originator), _str(sensor), time, stale, label, digest

    def _learn_label(self, items: list[Any]) -> None:
        if len(items) != 4 or not isinstance(items[2], bytes) or not isinstance(items[3], bytes):
            raise WireError("label frame is malformed")
        digest, canonical = items[2], items[3]
        # The digest is checked, not trusted: a label frame cannot rename another label.
        if hashlib.sha256(canonical).digest()[:LABEL_DIGEST_SIZE] != digest:
            raise WireError("label frame digest does not match its bytes")
        if digest not in self._labels:
            try:
                self._labels[digest] = self._parse_label(canonical)
            except ValueError as bad:
                raise WireError(f"label frame does not hold a label: {bad}") from None
