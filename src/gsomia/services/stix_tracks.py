"""Missile-warning tracks as STIX 2.1: pure functions over a stream's messages (no store, no feed, no I/O).

One stream (one launch as one originator's sensor saw it) becomes:

    marking-definition  the stream's label, through the classification extension (services/stix.py)
    location            the launch point, the newest tracked position, the predicted impact point (its
                        `precision` the impact area's radius, ce): §4.11, each when the stream has one
    relationship        observed-data → location, one per location, `located-at` (§5.1); STIX allows an
                        observed-data to refer to SCOs and SROs only, so the locations hang off these
    observed-data       the stream (§4.13): first_observed, last_observed, number_observed (messages),
                        object_refs → the relationships, and the whole trajectory (every position with
                        its time, altitude, velocity and error radii, the impact predictions, the end)
                        through a second property-extension, TRACK_EXTENSION_ID

All marked with the stream's marking; ids derived from the stream's name (services.stix.stable_uuid), so a
stream keeps its ids as it grows and its observed-data is re-versioned by `modified`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gsomia.domain.schemes import Schemes
from gsomia.domain.tracks import (
    UNKNOWN_ERROR,
    EndOfTrack,
    ImpactPrediction,
    LaunchEvent,
    Position,
    TrackMessage,
    TrackUpdate,
    instant,
)
from gsomia.services.stix import (
    DEFINED,
    EXTENSION_ID,
    GSOMIA_IDENTITY,
    SPEC_VERSION,
    identity_id,
    label_extension,
    stable_uuid,
    timestamp,
)

TRACK_EXTENSION_ID = f"extension-definition--{stable_uuid('missile-track/1')}"
TRACK_SCHEMA = (
    "A property-extension of observed-data (STIX 2.1 §4.13, §7.3) carrying a missile-warning track as"
    " gsomia's feed holds it: stream (string), originator (trigraph), sensor (string), trajectory (list of"
    " points: kind launch|update, time (timestamp), latitude, longitude (degrees WGS 84), altitude_m (metres"
    " above the ellipsoid), ce_m, le_m (circular and vertical error, metres), velocity_enu_ms (east, north,"
    " up, m/s, on updates)), impact_predictions (list: time made, predicted impact time, latitude,"
    " longitude, altitude_m, ce_m: the impact area's radius), ended (string reason, when the track ended).")


def track_extension_definition() -> dict[str, Any]:
    defined = timestamp(DEFINED)
    return {"type": "extension-definition", "spec_version": SPEC_VERSION, "id": TRACK_EXTENSION_ID,
            "created": defined, "modified": defined, "created_by_ref": GSOMIA_IDENTITY,
            "name": "gsomia missile track", "description": "A missile-warning track's trajectory and impact"
            " predictions on the observed-data that stands for it.", "schema": TRACK_SCHEMA, "version": "1.0.0",
            "extension_types": ["property-extension"]}


def stream_objects(messages: Sequence[TrackMessage], schemes: Schemes) -> list[dict[str, Any]]:
    """The STIX objects of one stream (see the module docstring), from its messages in any order."""
    if not messages:
        raise ValueError("a stream needs at least one message")
    ordered = sorted(messages, key=lambda m: m.seq)
    first, last = ordered[0], ordered[-1]
    stream, label = first.stream, last.label
    marking = f"marking-definition--{stable_uuid(f'stream:{stream}:{label.canonical_bytes().hex()}')}"
    marked = {"spec_version": SPEC_VERSION, "object_marking_refs": [marking]}
    begun, updated = timestamp(instant(first.time)), timestamp(instant(last.time))
    observed_id = f"observed-data--{stable_uuid(f'stream:{stream}')}"
    points = _points(ordered)
    locations, relationships = [], []
    for role, point in points.items():
        location_id = f"location--{stable_uuid(f'stream:{stream}:{role}')}"
        locations.append({"type": "location", "id": location_id, **marked, "created": begun, "modified": updated,
                          "created_by_ref": identity_id(first.originator), "name": f"{stream}: {role}",
                          "latitude": round(point[0].lat, 6), "longitude": round(point[0].lon, 6),
                          **({"precision": point[1]} if point[1] is not None else {})})
        relationship_id = f"relationship--{stable_uuid(f'stream:{stream}:{role}:at')}"
        relationships.append({"type": "relationship", "id": relationship_id,
                              **marked, "created": begun, "modified": updated,
                              "created_by_ref": identity_id(first.originator), "relationship_type": "located-at",
                              "description": role, "source_ref": observed_id, "target_ref": location_id})
    marking_object = {"type": "marking-definition", "spec_version": SPEC_VERSION, "id": marking,
                      "created": begun, "created_by_ref": identity_id(label.originator),
                      "name": label.banner(schemes), "extensions": {EXTENSION_ID: label_extension(label, schemes)}}
    observed = {"type": "observed-data", "id": observed_id, **marked, "created": begun, "modified": updated,
                "created_by_ref": identity_id(first.originator), "first_observed": begun, "last_observed": updated,
                "number_observed": len(ordered), "object_refs": [r["id"] for r in relationships],
                "extensions": {TRACK_EXTENSION_ID: _trajectory(ordered)}}
    if not relationships:  # object_refs may not be empty: a stream with no position yet has nothing to show
        raise ValueError(f"stream {stream} has no position yet")
    return [marking_object, *locations, *relationships, observed]


def _points(ordered: Sequence[TrackMessage]) -> dict[str, tuple[Position, float | None]]:
    """launch point, newest tracked position, newest predicted impact point: (where, radius metres)."""
    found: dict[str, tuple[Position, float | None]] = {}
    for msg in ordered:
        body = msg.body
        if isinstance(body, LaunchEvent):
            found["launch point"] = (body.point, _radius(body.error.ce_m))
        elif isinstance(body, TrackUpdate):
            found["newest tracked position"] = (body.position, _radius(body.error.ce_m))
        elif isinstance(body, ImpactPrediction):
            found["predicted impact point"] = (body.point, _radius(body.error.ce_m))
    return found


def _trajectory(ordered: Sequence[TrackMessage]) -> dict[str, Any]:
    first = ordered[0]
    points: list[dict[str, Any]] = []
    impacts: list[dict[str, Any]] = []
    values: dict[str, Any] = {"extension_type": "property-extension", "stream": first.stream,
                              "originator": first.originator, "sensor": first.sensor}
    for msg in ordered:
        body, at = msg.body, timestamp(instant(msg.time))
        if isinstance(body, LaunchEvent):
            points.append({"kind": "launch", "time": at, **_where(body.point), **_errors(body.error.ce_m,
                                                                                         body.error.le_m)})
        elif isinstance(body, TrackUpdate):
            velocity = [round(body.velocity.east, 3), round(body.velocity.north, 3), round(body.velocity.up, 3)]
            points.append({"kind": "update", "time": at, **_where(body.position), "velocity_enu_ms": velocity,
                           **_errors(body.error.ce_m, body.error.le_m)})
        elif isinstance(body, ImpactPrediction):
            impacts.append({"time": at, "impact_time": timestamp(instant(body.impact_time)), **_where(body.point),
                            **_errors(body.error.ce_m, None)})
        elif isinstance(body, EndOfTrack):
            values["ended"] = body.reason
    values["trajectory"] = points
    if impacts:
        values["impact_predictions"] = impacts
    return values


def _where(point: Position) -> dict[str, float]:
    return {"latitude": round(point.lat, 6), "longitude": round(point.lon, 6), "altitude_m": round(point.alt_m, 1)}


def _errors(ce_m: float, le_m: float | None) -> dict[str, float]:
    errors = {"ce_m": ce_m} if _radius(ce_m) is not None else {}
    if le_m is not None and _radius(le_m) is not None:
        errors["le_m"] = le_m
    return errors


def _radius(metres: float) -> float | None:
    return None if metres >= UNKNOWN_ERROR else round(metres, 1)
