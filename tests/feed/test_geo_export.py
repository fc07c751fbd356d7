"""A stream's trajectory and impact area as GeoJSON (RFC 7946) and KML 2.2 (domain/geo.py), drawn from a
simulated ballistic track: the output is parsed back and its structure checked against the RFCs' rules."""

from __future__ import annotations

import json
import math
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest

from gsomia.domain import geo
from gsomia.domain.errors import DomainError
from gsomia.domain.tracks import ImpactPrediction, TrackMessage, TrackUpdate
from gsomia.feed.trajectory import TrackSource, ballistic_track, scenario_for_seed

from .helpers import make_label

BANNER = "SECRET//REL TO USA, JPN, KOR"
KML = "{http://www.opengis.net/kml/2.2}"


def flight() -> list[TrackMessage]:
    source = TrackSource(make_label("II"), "KOR-GEO-1", rate_hz=2.0)
    return list(ballistic_track(scenario_for_seed(3), source, 1_800_000_000.0, seed=3))


def ring_area(ring: list[list[float]]) -> float:
    """Shoelace on (lon, lat): positive for counter-clockwise."""
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:], strict=False)) / 2


def check_position(position: Any) -> None:
    assert isinstance(position, list) and len(position) in (2, 3)  # RFC 7946 §3.1.1
    assert all(isinstance(v, float | int) for v in position)
    assert -180.0 <= position[0] <= 180.0 and -90.0 <= position[1] <= 90.0  # longitude first


def test_geojson_follows_rfc_7946() -> None:
    messages = flight()
    document = json.loads(json.dumps(geo.geojson("KOR-GEO-1", messages, BANNER)))  # plain JSON through and back
    assert document["type"] == "FeatureCollection" and "crs" not in document  # §4: no CRS member, WGS 84
    kinds = {f["properties"]["kind"]: f for f in document["features"]}
    assert set(kinds) == {"trajectory", "launch", "impact-area"}
    for feature in document["features"]:
        assert feature["type"] == "Feature" and isinstance(feature["properties"], dict)  # §3.2
        assert feature["properties"]["marking"] == BANNER and feature["properties"]["classification"] == "KOR:II"
    line = kinds["trajectory"]["geometry"]
    updates = [m for m in messages if isinstance(m.body, TrackUpdate)]
    assert line["type"] == "LineString" and len(line["coordinates"]) == len(updates) >= 2  # §3.1.4
    for position in line["coordinates"]:
        check_position(position)
    first = updates[0].body
    assert isinstance(first, TrackUpdate)
    assert line["coordinates"][0] == [first.position.lon, first.position.lat, first.position.alt_m]
    assert max(p[2] for p in line["coordinates"]) > 100_000  # a lofted flight, altitude carried
    launch = kinds["launch"]["geometry"]
    assert launch["type"] == "Point"
    check_position(launch["coordinates"])
    area = kinds["impact-area"]
    polygon = area["geometry"]
    assert polygon["type"] == "Polygon" and len(polygon["coordinates"]) == 1  # one exterior ring, no holes
    ring = polygon["coordinates"][0]
    assert len(ring) == geo.CIRCLE_VERTICES + 1 >= 4 and ring[0] == ring[-1]  # §3.1.6: closed, ≥ 4 positions
    for position in ring:
        check_position(position)
    assert ring_area(ring) > 0  # §3.1.6: exterior ring counter-clockwise
    newest = [m for m in messages if isinstance(m.body, ImpactPrediction)][-1].body
    assert isinstance(newest, ImpactPrediction) and area["properties"]["radius_m"] == newest.error.ce_m
    # every vertex is the radius away from the predicted point (haversine), within a metre
    for lon, lat in ring:
        p1, p2 = math.radians(newest.point.lat), math.radians(lat)
        dlat, dlon = p2 - p1, math.radians(lon - newest.point.lon)
        h = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
        assert 2 * geo.EARTH_RADIUS_M * math.asin(math.sqrt(h)) == pytest.approx(newest.error.ce_m, abs=1.0)


def test_kml_parses_and_carries_the_same_shapes() -> None:
    messages = flight()
    root = SafeET.fromstring(geo.kml("KOR-GEO-1", messages, BANNER))
    assert root.tag == KML + "kml"
    document = root.find(KML + "Document")
    assert document is not None and (document.findtext(KML + "name") or "").startswith(BANNER)
    marks = {m.get("id"): m for m in document.findall(KML + "Placemark")}
    assert set(marks) == {"KOR-GEO-1.trajectory", "KOR-GEO-1.launch", "KOR-GEO-1.impact"}
    for mark in marks.values():
        assert (mark.findtext(KML + "name") or "").startswith(BANNER)
    coords = (marks["KOR-GEO-1.trajectory"].findtext(f"{KML}LineString/{KML}coordinates") or "").split()
    updates = [m for m in messages if isinstance(m.body, TrackUpdate)]
    assert len(coords) == len(updates)
    lon, lat, alt = (float(v) for v in coords[-1].split(","))
    last = updates[-1].body
    assert isinstance(last, TrackUpdate) and (lon, lat, alt) == (last.position.lon, last.position.lat,
                                                                 last.position.alt_m)
    ring = (marks["KOR-GEO-1.impact"].findtext(
        f"{KML}Polygon/{KML}outerBoundaryIs/{KML}LinearRing/{KML}coordinates") or "").split()
    assert len(ring) == geo.CIRCLE_VERTICES + 1 and ring[0] == ring[-1]


def test_a_stream_with_nothing_to_draw_is_an_error() -> None:
    with pytest.raises(DomainError, match="no messages"):
        geo.geojson("KOR-NONE", flight(), BANNER)
