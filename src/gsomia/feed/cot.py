"""Cursor-on-Target ⇄ track messages, so TAK clients can feed and watch the missile-warning feed.

One stream shows on a TAK map as up to three markers: the missile track (uid = stream), the
presumed launch point (`<stream>.launch`) and the predicted impact area (`<stream>.impact`).
CoT types follow MIL-STD-2525 as TAK uses them: hostile air missile for the track, hostile missile
launcher for the launch point, a drawn circle for the impact area (its `ce` is the radius).

Our fields ride in `detail`: a `<gsomia>` element (stream, seq, originator, sensor, velocity,
impact time) and the label as a STANAG 4774-style `ConfidentialityLabel`, so a TAK user sees the
marking and a gsomia node can rebuild the exact label.

Parsing is defensive: defusedxml with DTDs and entities forbidden, a size cap, and one error type
(`CotError`) for anything wrong. Plain TAK input without our detail is accepted only when the
caller supplies the label and stream it must carry (`CotDefaults`): never an unlabelled message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from xml.etree.ElementTree import Element
from xml.sax.saxutils import quoteattr

from gsomia.domain.errors import DomainError
from gsomia.domain.labels import STANAG_4774_NS, Label
from gsomia.domain.schemes import Schemes
from gsomia.domain.stanag4774 import label_from_element, write_label
from gsomia.domain.timeutil import parse_instant
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
from gsomia.domain.untrusted_xml import UnacceptableXml, parse_untrusted
from gsomia.feed.errors import CotError

TYPE_TRACK = "a-h-A-M"          # hostile / air / missile
TYPE_LAUNCH = "a-h-G-E-W-M"     # hostile / ground / equipment / weapon / missile launcher
TYPE_IMPACT = "u-d-c-c"         # a drawn circle: TAK renders the impact area with radius ce
MAX_EVENT_BYTES = 64 * 1024
_NS = "{" + STANAG_4774_NS + "}"


def cot_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _err(u: Uncertainty) -> tuple[float, float]:
    return u.ce_m, u.le_m


class CotWriter:
    """Serialises messages; the label XML is built once per label digest, not per message."""

    def __init__(self) -> None:
        self._labels: dict[bytes, str] = {}

    def write(self, msg: TrackMessage) -> bytes:
        label_xml = self._labels.get(msg.digest)
        if label_xml is None:
            label_xml = self._labels[msg.digest] = write_label(msg.label)
        body = msg.body
        extra, uid, cot_type, how, stale = "", msg.stream, TYPE_TRACK, "m-f", msg.stale
        if isinstance(body, TrackUpdate):
            p, (ce, le), v = body.position, _err(body.error), body.velocity
            extra = f' ve="{v.east!r}" vn="{v.north!r}" vu="{v.up!r}"'
        elif isinstance(body, ImpactPrediction):
            p, (ce, le) = body.point, _err(body.error)
            uid, cot_type, how = msg.stream + ".impact", TYPE_IMPACT, "m-p"
            extra = f' impact="{body.impact_time!r}"'
        elif isinstance(body, LaunchEvent):
            p, (ce, le) = body.point, _err(body.error)
            uid, cot_type, how = msg.stream + ".launch", TYPE_LAUNCH, "h-e"
        else:
            # End of track: the track marker expires now; TAK drops it from the map.
            p, ce, le, stale = Position(0.0, 0.0, 0.0), UNKNOWN_ERROR, UNKNOWN_ERROR, msg.time
            extra = f" reason={quoteattr(body.reason)}"
        t = cot_time(msg.time)
        return (
            f'<event version="2.0" uid={quoteattr(uid)} type="{cot_type}" how="{how}" time="{t}"'
            f' start="{t}" stale="{cot_time(stale)}"><point lat="{p.lat!r}" lon="{p.lon!r}"'
            f' hae="{p.alt_m!r}" ce="{ce!r}" le="{le!r}"/><detail><gsomia kind="{msg.kind}"'
            f" stream={quoteattr(msg.stream)} seq=\"{msg.seq}\" originator={quoteattr(msg.originator)}"
            f' sensor={quoteattr(msg.sensor)} time="{msg.time!r}" stale="{msg.stale!r}"{extra}/>'
            f"{label_xml}</detail></event>"
        ).encode()


@dataclass(frozen=True, slots=True)
class CotDefaults:
    """What plain TAK input (no `<gsomia>` detail) is taken to be: the listener's configured source."""

    label: Label
    originator: str
    sensor: str
    next_seq: Callable[[str], int]   # per stream: the listener numbers what TAK does not


def _attr(el: Element, name: str) -> str:
    value = el.get(name)
    if value is None:
        raise CotError(f"<{el.tag}> lacks the attribute {name!r}")
    return value


def _num(el: Element, name: str, default: float | None = None) -> float:
    raw = el.get(name)
    if raw is None:
        if default is None:
            raise CotError(f"<{el.tag}> lacks the attribute {name!r}")
        return default
    try:
        return float(raw)
    except ValueError:
        raise CotError(f"<{el.tag}> {name}={raw!r} is not a number") from None


def _seconds(el: Element, name: str) -> float:
    try:
        return parse_instant(_attr(el, name)).timestamp()
    except ValueError:
        raise CotError(f"<{el.tag}> {name} is not an ISO 8601 time") from None


def _label(el: Element, originator: str, schemes: Schemes) -> Label:
    try:
        return label_from_element(el, schemes, originator)
    except DomainError as bad:  # LabelFormatError, or an unknown party
        raise CotError(f"label is not valid: {bad}") from None


def _body(kind: str, point: Position, error: Uncertainty, g: Element | None, track: Element | None) -> Body:
    if kind == "LaunchEvent":
        return LaunchEvent(point, error)
    if kind == "ImpactPrediction" and g is not None:
        return ImpactPrediction(point, error, _num(g, "impact"))
    if kind == "EndOfTrack" and g is not None:
        return EndOfTrack(g.get("reason", ""))
    if kind != "TrackUpdate":
        raise CotError(f"unknown gsomia kind {kind!r}")
    if g is not None and g.get("ve") is not None:
        return TrackUpdate(point, Velocity(_num(g, "ve"), _num(g, "vn"), _num(g, "vu")), error)
    # Plain TAK: course (degrees true) and speed (m/s) in the standard <track> detail, if any.
    course = math.radians(_num(track, "course", 0.0)) if track is not None else 0.0
    speed = _num(track, "speed", 0.0) if track is not None else 0.0
    return TrackUpdate(point, Velocity(speed * math.sin(course), speed * math.cos(course), 0.0), error)


def parse_cot(data: bytes, schemes: Schemes, defaults: CotDefaults | None = None) -> TrackMessage:
    """One `<event>` as a track message; CotError for anything malformed, hostile or unlabelled."""
    try:
        root = parse_untrusted(data, limit=MAX_EVENT_BYTES, what="event")
    except UnacceptableXml as bad:
        raise CotError(str(bad)) from None
    if root.tag != "event":
        raise CotError(f"root element is <{root.tag}>, not <event>")
    point_el = root.find("point")
    if point_el is None:
        raise CotError("event lacks <point>")
    point = Position(_num(point_el, "lat"), _num(point_el, "lon"), _num(point_el, "hae", 0.0))
    if not (-90.0 <= point.lat <= 90.0 and -180.0 <= point.lon <= 180.0):
        raise CotError("point is off the globe")
    error = Uncertainty(_num(point_el, "ce", UNKNOWN_ERROR), _num(point_el, "le", UNKNOWN_ERROR))
    detail = root.find("detail")
    g = detail.find("gsomia") if detail is not None else None
    label_el = detail.find(_NS + "ConfidentialityLabel") if detail is not None else None
    track = detail.find("track") if detail is not None else None
    if g is not None and label_el is not None:
        originator = _attr(g, "originator")
        try:
            seq = int(_attr(g, "seq"))
        except ValueError:
            raise CotError("gsomia seq is not an integer") from None
        body = _body(_attr(g, "kind"), point, error, g, track)
        return TrackMessage(_attr(g, "stream"), seq, originator, _attr(g, "sensor"), _num(g, "time"),
                            _num(g, "stale"), _label(label_el, originator, schemes), body)
    if defaults is None:
        raise CotError("event carries no gsomia label and this listener has no default for plain TAK input")
    stream = "cot-" + _attr(root, "uid")
    return TrackMessage(stream, defaults.next_seq(stream), defaults.originator, defaults.sensor,
                        _seconds(root, "time"), _seconds(root, "stale"), defaults.label,
                        _body("TrackUpdate", point, error, None, track))


CONTROL_PREFIX = "t-x-"  # TAK's control events (protocol negotiation, pings): not tracks


def control_type(data: bytes) -> str | None:
    """The type of a TAK control event (`t-x-…`), or None for anything else; parsed as safely as a track."""
    if b'"t-x-' not in data[:512]:
        return None
    try:
        root = parse_untrusted(data, limit=MAX_EVENT_BYTES, what="event")
    except UnacceptableXml:
        return None
    kind = root.get("type", "")
    return kind if root.tag == "event" and kind.startswith(CONTROL_PREFIX) else None


def asks_protocol(data: bytes, version: str = "1") -> bool:
    """Whether a TAK protocol request (`t-x-takp-q`) asks for this protobuf version."""
    root = parse_untrusted(data, limit=MAX_EVENT_BYTES, what="event")
    request = root.find("detail/TakControl/TakRequest")
    return request is not None and request.get("version") == version
