"""A sensor's batch of track messages as plain data (JSON), read and written in one place.

The fields are those `POST /v1/feed/tracks` takes and the CLI's `gsomia feed post` sends over the feed
protocol: one label (`classification` in this node's scheme, `releasable_to`, `topics`, `purpose`) and up to
`MAX_MESSAGES` messages, each `{stream, seq?, kind: launch|update|impact|end, sensor, time, stale, point?,
position?, velocity?, error?: {ce_m, le_m}, impact_time?, reason?}` (times in POSIX seconds). Every field is
checked here and named in the error (`messages[3].point.lat: …`); a batch with one bad message is refused
whole, before anything is originated. `track_dict` writes a message back in the same shape (what
`gsomia feed tail --json` prints and the demo's sensor posts).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gsomia.domain.errors import DomainError
from gsomia.domain.labels import Label
from gsomia.domain.parsing import label_from_dict
from gsomia.domain.tracks import (
    UNKNOWN_ERROR,
    Body,
    EndOfTrack,
    ImpactPrediction,
    LaunchEvent,
    Position,
    TrackMessage,
    TrackUpdate,
    Uncertainty,
    Velocity,
)
from gsomia.services.context import Node
from gsomia.services.errors import InvalidInput
from gsomia.services.feed import SensorTrack

MAX_MESSAGES = 1000
KINDS = ("launch", "update", "impact", "end")
STREAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")


@dataclass(frozen=True, slots=True)
class Batch:
    """What a sensor hands in at once: one label, its messages."""

    label: Label
    tracks: list[SensorTrack]


def batch_from_dict(node: Node, document: Any) -> Batch:
    """`{"label": {...}, "messages": [...]}` checked whole; InvalidInput names the first bad field."""
    if not isinstance(document, Mapping):
        raise InvalidInput("a batch is a JSON object with `label` and `messages`")
    label_fields = document.get("label")
    if not isinstance(label_fields, Mapping):
        raise InvalidInput("label: give classification, releasable_to, topics and purpose")
    messages = document.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise InvalidInput(f"messages: a list of 1 to {MAX_MESSAGES} track messages")
    return Batch(label_of(node, label_fields), [sensor_track(m, f"messages[{i}]") for i, m in enumerate(messages)])


def label_of(node: Node, fields: Mapping[str, Any]) -> Label:
    """A stream's label: always this node's party's, with a purpose and at least one topic (R6.b, R7.2)."""
    if not str(fields.get("purpose") or "").strip():
        raise InvalidInput("label.purpose: say what the tracks are provided for (R6.b)")
    if not fields.get("topics"):
        raise InvalidInput("label.topics: name at least one topic (need-to-know)")
    try:
        return label_from_dict({**fields, "originator": node.party}, node.schemes, node.clock(), "label")
    except DomainError as bad:
        raise InvalidInput(str(bad)) from None


def sensor_track(message: Any, where: str = "message") -> SensorTrack:
    if not isinstance(message, Mapping):
        raise InvalidInput(f"{where}: a track message is a JSON object")
    stream = message.get("stream")
    if not isinstance(stream, str) or not STREAM_NAME.fullmatch(stream):
        raise InvalidInput(f"{where}.stream: letters, digits and . _ : - (up to 100), starting with a letter or digit")
    seq = message.get("seq")
    if seq is not None and (type(seq) is not int or seq < 1):
        raise InvalidInput(f"{where}.seq: a whole number from 1 (or leave it out: the node numbers on)")
    sensor = message.get("sensor")
    if not isinstance(sensor, str) or not 1 <= len(sensor) <= 100:
        raise InvalidInput(f"{where}.sensor: the sensor's name (1 to 100 characters)")
    return SensorTrack(stream, seq, sensor, _number(message, "time", where), _number(message, "stale", where),
                       _body(message, where))


def _body(m: Mapping[str, Any], where: str) -> Body:
    kind = m.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"{where}.kind: one of {', '.join(KINDS)}")
    if kind == "end":
        reason = m.get("reason") or "ended"
        if not isinstance(reason, str) or len(reason) > 200:
            raise InvalidInput(f"{where}.reason: why the track ended, e.g. impact or lost (up to 200 characters)")
        return EndOfTrack(reason)
    error = _error(m.get("error"), f"{where}.error")
    if kind == "update":
        if m.get("position") is None or m.get("velocity") is None:
            raise InvalidInput(f"{where}: an update needs position and velocity")
        v = _mapping(m["velocity"], f"{where}.velocity")
        velocity = Velocity(*(_number(v, axis, f"{where}.velocity") for axis in ("east", "north", "up")))
        return TrackUpdate(_position(m["position"], f"{where}.position"), velocity, error)
    if m.get("point") is None:
        raise InvalidInput(f"{where}: a {kind} needs a point")
    point = _position(m["point"], f"{where}.point")
    if kind == "launch":
        return LaunchEvent(point, error)
    if m.get("impact_time") is None:
        raise InvalidInput(f"{where}: an impact prediction needs impact_time")
    return ImpactPrediction(point, error, _number(m, "impact_time", where))


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where}: a JSON object")
    return value


def _number(fields: Mapping[str, Any], name: str, where: str, low: float = -math.inf, high: float = math.inf,
            default: float | None = None) -> float:
    value = fields.get(name, default)
    if type(value) not in (int, float) or not math.isfinite(value) or not low <= value <= high:
        bounds = f" from {low:g} to {high:g}" if math.isfinite(low) else ""
        raise InvalidInput(f"{where}.{name}: a number{bounds}")
    return float(value)


def _position(value: Any, where: str) -> Position:
    p = _mapping(value, where)
    return Position(_number(p, "lat", where, -90, 90), _number(p, "lon", where, -180, 180),
                    _number(p, "alt_m", where, default=0.0))


def _error(value: Any, where: str) -> Uncertainty:
    e = _mapping(value if value is not None else {}, where)
    return Uncertainty(_number(e, "ce_m", where, 0, math.inf, UNKNOWN_ERROR),
                       _number(e, "le_m", where, 0, math.inf, UNKNOWN_ERROR))


def track_dict(msg: TrackMessage) -> dict[str, Any]:
    """A message in the shape a sensor posts it (the inverse of `sensor_track`)."""
    out: dict[str, Any] = {"stream": msg.stream, "seq": msg.seq, "sensor": msg.sensor, "time": msg.time,
                           "stale": msg.stale}
    body = msg.body
    if isinstance(body, EndOfTrack):
        return {**out, "kind": "end", "reason": body.reason}
    error = {"ce_m": body.error.ce_m, "le_m": body.error.le_m}
    if isinstance(body, LaunchEvent):
        return {**out, "kind": "launch", "point": _point(body.point), "error": error}
    if isinstance(body, TrackUpdate):
        v = body.velocity
        return {**out, "kind": "update", "position": _point(body.position), "error": error,
                "velocity": {"east": v.east, "north": v.north, "up": v.up}}
    return {**out, "kind": "impact", "point": _point(body.point), "error": error, "impact_time": body.impact_time}


def _point(p: Position) -> dict[str, float]:
    return {"lat": p.lat, "lon": p.lon, "alt_m": p.alt_m}
