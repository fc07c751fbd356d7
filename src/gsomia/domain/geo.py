"""A missile stream's trajectory and predicted impact area for GIS tools: GeoJSON (RFC 7946) and KML 2.2.

What is drawn, from one stream's messages in sequence order:
- the trajectory: a LineString through every track update's position (longitude, latitude, metres above
  the WGS 84 ellipsoid: RFC 7946 §3.1.1 order; KML `absolute` altitude);
- the launch point, if a launch event was reported;
- the impact area: the newest impact prediction's circle (radius = its `ce`, metres) as a polygon of
  `CIRCLE_VERTICES` geodesic points, exterior ring counter-clockwise and closed (RFC 7946 §3.1.6), with
  the predicted impact point and time.
Each feature carries the stream's marking (banner) and label fields, so the file is marked wherever it goes.
Pure: no I/O; the services decide who may have it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from gsomia.domain.errors import DomainError
from gsomia.domain.tracks import ImpactPrediction, LaunchEvent, Position, TrackMessage, TrackUpdate, instant

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG), for the impact circle's vertices
CIRCLE_VERTICES = 64
KML_NS = "http://www.opengis.net/kml/2.2"
GEOJSON_MEDIA_TYPE = "application/geo+json"
KML_MEDIA_TYPE = "application/vnd.google-earth.kml+xml"


def _iso(seconds: float) -> str:
    return instant(seconds).isoformat().replace("+00:00", "Z")


def _lon(lon: float) -> float:
    return (lon + 540.0) % 360.0 - 180.0


def circle(centre: Position, radius_m: float, vertices: int = CIRCLE_VERTICES) -> list[tuple[float, float]]:
    """(lon, lat) points `radius_m` from `centre` on a sphere, counter-clockwise seen from above, closed."""
    lat1, lon1 = math.radians(centre.lat), math.radians(centre.lon)
    angular = radius_m / EARTH_RADIUS_M
    ring = []
    for i in range(vertices):
        bearing = -2.0 * math.pi * i / vertices  # decreasing bearing (clockwise from north) turns counter-clockwise
        lat2 = math.asin(math.sin(lat1) * math.cos(angular) + math.cos(lat1) * math.sin(angular) * math.cos(bearing))
        lon2 = lon1 + math.atan2(math.sin(bearing) * math.sin(angular) * math.cos(lat1),
                                 math.cos(angular) - math.sin(lat1) * math.sin(lat2))
        ring.append((round(_lon(math.degrees(lon2)), 7), round(math.degrees(lat2), 7)))
    ring.append(ring[0])
    return ring


class Shapes:
    """The stream's shapes, picked from its messages once."""

    def __init__(self, stream: str, messages: Sequence[TrackMessage]) -> None:
        ordered = sorted((m for m in messages if m.stream == stream), key=lambda m: m.seq)
        if not ordered:
            raise DomainError(f"stream {stream} has no messages to draw")
        self.stream, self.messages = stream, ordered
        self.updates = [m for m in ordered if isinstance(m.body, TrackUpdate)]
        self.launch = next((m for m in ordered if isinstance(m.body, LaunchEvent)), None)
        self.impact = next((m for m in reversed(ordered) if isinstance(m.body, ImpactPrediction)), None)

    def properties(self, banner: str) -> dict[str, Any]:
        first, last = self.messages[0], self.messages[-1]
        label = last.label
        return {"stream": self.stream, "originator": last.originator, "sensor": last.sensor, "marking": banner,
                "classification": str(label.classification), "releasable_to": sorted(label.releasable_to),
                "topics": sorted(label.topics), "purpose": label.purpose, "provider": label.provider,
                "first_seq": first.seq, "last_seq": last.seq, "start": _iso(first.time), "end": _iso(last.time)}


def _track_points(shapes: Shapes) -> list[tuple[float, float, float]]:
    points = []
    for m in shapes.updates:
        assert isinstance(m.body, TrackUpdate)
        p = m.body.position
        points.append((p.lon, p.lat, p.alt_m))
    return points


def geojson(stream: str, messages: Sequence[TrackMessage], banner: str) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (RFC 7946) of the stream's trajectory, launch point and impact area."""
    shapes = Shapes(stream, messages)
    common = shapes.properties(banner)
    features: list[dict[str, Any]] = []
    points = _track_points(shapes)
    if len(points) >= 2:
        features.append({"type": "Feature", "id": f"{stream}.trajectory", "properties": {
            **common, "kind": "trajectory", "times": [_iso(m.time) for m in shapes.updates]},
            "geometry": {"type": "LineString", "coordinates": [list(p) for p in points]}})
    elif points:
        features.append({"type": "Feature", "id": f"{stream}.trajectory",
                         "properties": {**common, "kind": "track"},
                         "geometry": {"type": "Point", "coordinates": list(points[0])}})
    if shapes.launch is not None:
        assert isinstance(shapes.launch.body, LaunchEvent)
        p = shapes.launch.body.point
        features.append({"type": "Feature", "id": f"{stream}.launch",
                         "properties": {**common, "kind": "launch", "time": _iso(shapes.launch.time)},
                         "geometry": {"type": "Point", "coordinates": [p.lon, p.lat, p.alt_m]}})
    if shapes.impact is not None:
        body = shapes.impact.body
        assert isinstance(body, ImpactPrediction)
        features.append({"type": "Feature", "id": f"{stream}.impact", "properties": {
            **common, "kind": "impact-area", "radius_m": body.error.ce_m, "impact_time": _iso(body.impact_time),
            "impact_point": [body.point.lon, body.point.lat], "predicted_at": _iso(shapes.impact.time)},
            "geometry": {"type": "Polygon", "coordinates": [[list(v) for v in circle(body.point, body.error.ce_m)]]}})
    return {"type": "FeatureCollection", "features": features}


def kml(stream: str, messages: Sequence[TrackMessage], banner: str) -> bytes:
    """A KML 2.2 document of the same shapes, its name and every placemark marked."""
    register_namespace("", KML_NS)
    k = "{" + KML_NS + "}"
    shapes = Shapes(stream, messages)
    common = shapes.properties(banner)
    root = Element(k + "kml")
    document = SubElement(root, k + "Document")
    SubElement(document, k + "name").text = f"{banner} — {stream}"
    SubElement(document, k + "description").text = (
        f"{banner}. Missile track {stream} from {common['originator']}, messages {common['first_seq']}"
        f"–{common['last_seq']}, {common['start']} to {common['end']}. Purpose: {common['purpose']}.")

    def placemark(name: str, kind: str) -> Element:
        mark = SubElement(document, k + "Placemark", id=f"{stream}.{kind}")
        SubElement(mark, k + "name").text = f"{banner} — {name}"
        data = SubElement(mark, k + "ExtendedData")
        for key, value in (("kind", kind), ("marking", banner), ("classification", common["classification"]),
                           ("stream", stream)):
            SubElement(SubElement(data, k + "Data", name=key), k + "value").text = str(value)
        return mark

    points = _track_points(shapes)
    if points:
        mark = placemark(f"trajectory of {stream}", "trajectory")
        span = SubElement(mark, k + "TimeSpan")
        SubElement(span, k + "begin").text = common["start"]
        SubElement(span, k + "end").text = common["end"]
        line = SubElement(mark, k + "LineString")
        SubElement(line, k + "altitudeMode").text = "absolute"
        SubElement(line, k + "coordinates").text = " ".join(f"{lon!r},{lat!r},{alt!r}" for lon, lat, alt in points)
    if shapes.launch is not None:
        assert isinstance(shapes.launch.body, LaunchEvent)
        p = shapes.launch.body.point
        mark = placemark("launch point", "launch")
        SubElement(SubElement(mark, k + "TimeStamp"), k + "when").text = _iso(shapes.launch.time)
        SubElement(SubElement(mark, k + "Point"), k + "coordinates").text = f"{p.lon!r},{p.lat!r},{p.alt_m!r}"
    if shapes.impact is not None:
        body = shapes.impact.body
        assert isinstance(body, ImpactPrediction)
        mark = placemark(f"predicted impact area, {body.error.ce_m:.0f} m, at {_iso(body.impact_time)}", "impact")
        polygon = SubElement(mark, k + "Polygon")
        SubElement(polygon, k + "altitudeMode").text = "clampToGround"
        ring = SubElement(SubElement(SubElement(polygon, k + "outerBoundaryIs"), k + "LinearRing"), k + "coordinates")
        ring.text = " ".join(f"{lon!r},{lat!r},0.0" for lon, lat in circle(body.point, body.error.ce_m))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode()
