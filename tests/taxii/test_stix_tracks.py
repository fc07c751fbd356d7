"""Missile-warning tracks as STIX 2.1 (services/stix_tracks.py): a simulated launch's stream becomes an
observed-data with its trajectory, locations for the launch, the newest position and the predicted impact,
all valid for stix2-validator and marked with the stream's classification."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from stix2validator import ValidationOptions, validate_instance

from gsomia.domain.parsing import label_from_dict
from gsomia.domain.tracks import EndOfTrack, ImpactPrediction, TrackMessage
from gsomia.feed.trajectory import TrackSource, ballistic_track, scenario_for_seed
from gsomia.services import stix
from gsomia.services.context import load_schemes
from gsomia.services.stix_tracks import TRACK_EXTENSION_ID, stream_objects, track_extension_definition

SCHEMES = load_schemes()
START = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc).timestamp()


def launch() -> list[TrackMessage]:
    fields = {"originator": "KOR", "classification": "KOR:II", "releasable_to": ["USA", "JPN"],
              "topics": ["dprk-missile"], "purpose": "missile warning"}
    label = label_from_dict(fields, SCHEMES, datetime.now(timezone.utc))
    source = TrackSource(label, "KOR-S1-20261207-001", rate_hz=0.5, impact_every_s=30.0)
    return list(ballistic_track(scenario_for_seed(7), source, START, seed=7))


def test_a_stream_is_valid_observed_data_with_its_trajectory() -> None:
    messages = launch()
    objects = [track_extension_definition(), *stream_objects(messages, SCHEMES)]
    for stix_object in objects:
        result = validate_instance(stix_object, ValidationOptions(version="2.1"))
        assert result.is_valid, [str(e) for e in result.errors]
    kinds = [o["type"] for o in objects]
    assert kinds.count("location") == 3 and kinds.count("relationship") == 3 and kinds[-1] == "observed-data"
    observed = objects[-1]
    track = observed["extensions"][TRACK_EXTENSION_ID]
    updates = [m for m in messages if m.kind == "TrackUpdate"]
    assert len(track["trajectory"]) == len(updates) + 1  # the launch point, then every update
    assert track["ended"] == "impact" and observed["number_observed"] == len(messages)
    impact = next(o for o in objects if o["type"] == "location" and o["name"].endswith("predicted impact point"))
    newest = [m.body for m in messages if isinstance(m.body, ImpactPrediction)][-1]
    assert (impact["latitude"], impact["longitude"]) == (round(newest.point.lat, 6), round(newest.point.lon, 6))
    marking = objects[1]
    assert marking["extensions"][stix.EXTENSION_ID]["banner"] == "SECRET//REL TO USA, JPN"
    assert all(o.get("object_marking_refs") == [marking["id"]] for o in objects[2:])


def test_a_growing_stream_keeps_its_ids() -> None:
    messages = launch()
    early, full = stream_objects(messages[:10], SCHEMES), stream_objects(messages, SCHEMES)
    assert early[-1]["id"] == full[-1]["id"] and early[-1]["modified"] < full[-1]["modified"]
    assert isinstance(messages[-1].body, EndOfTrack)
    with pytest.raises(ValueError, match="no position"):
        stream_objects([messages[-1]], SCHEMES)
