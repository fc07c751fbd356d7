"""A sensor's batch as plain data (services.feed_posts): what `POST /v1/feed/tracks` and the feed protocol's
posts take, each bad field named; and its inverse, which reads back as it was written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from gsomia.config import Settings
from gsomia.domain.labels import Label
from gsomia.domain.schemes import Classification
from gsomia.domain.tracks import (
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
from gsomia.services.feed_posts import MAX_MESSAGES, batch_from_dict, sensor_track, track_dict
from gsomia.services.runtime import unchecked_node

LABEL = {"classification": "KOR:II", "releasable_to": ["USA", "JPN"], "topics": ["dprk-missile"],
         "purpose": "missile warning"}
LAUNCH = {"stream": "KOR-1", "kind": "launch", "sensor": "radar", "time": 100.0, "stale": 160.0,
          "point": {"lat": 39.0, "lon": 125.7}}


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    made = unchecked_node(Settings(party="KOR", name="feed posts", node_id="KOR-posts", data_dir=tmp_path))
    yield made
    made.close()


@pytest.mark.parametrize("body", [
    LaunchEvent(Position(39.0, 125.7, 0.0), Uncertainty(500.0, 200.0)),
    TrackUpdate(Position(39.5, 127.0, 90_000.0), Velocity(1900.0, 150.0, 800.0), Uncertainty()),
    ImpactPrediction(Position(40.9, 138.2, 0.0), Uncertainty(2000.0, 0.0), 420.5),
    EndOfTrack("impact"),
], ids=["launch", "update", "impact", "end"])
def test_a_message_written_as_a_sensor_posts_it_reads_back_the_same(body: Any) -> None:
    label = Label("KOR", "KOR", Classification("KOR", "II"), frozenset({"KOR"}), frozenset({"t"}), "p",
                  datetime(2026, 1, 1, tzinfo=timezone.utc))
    msg = TrackMessage("KOR-1", 7, "KOR", "radar", 100.0, 160.0, label, body)
    track = sensor_track(track_dict(msg))
    assert (track.stream, track.seq, track.sensor, track.time, track.stale, track.body) == \
        ("KOR-1", 7, "radar", 100.0, 160.0, body)


@pytest.mark.parametrize("change,named", [
    ({"kind": "boom"}, "message.kind"),
    ({"stream": "../etc"}, "message.stream"),
    ({"seq": 0}, "message.seq"),
    ({"seq": True}, "message.seq"),
    ({"time": "soon"}, "message.time"),
    ({"point": {"lat": 91, "lon": 0}}, "message.point.lat"),
    ({"point": None}, "a launch needs a point"),
    ({"kind": "update"}, "an update needs position and velocity"),
    ({"kind": "impact"}, "impact_time"),
    ({"error": {"ce_m": -1}}, "message.error.ce_m"),
], ids=lambda v: str(v))
def test_a_bad_field_is_named(change: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInput, match=named.replace(".", r"\.")):
        sensor_track({**LAUNCH, **change})


def test_a_batch_is_checked_whole_and_its_label_is_this_partys(node: Node) -> None:
    batch = batch_from_dict(node, {"label": LABEL, "messages": [LAUNCH, {**LAUNCH, "kind": "end"}]})
    assert batch.label.originator == "KOR" and [t.body for t in batch.tracks][1] == EndOfTrack("ended")
    with pytest.raises(InvalidInput, match=r"messages\[1\]\.kind"):
        batch_from_dict(node, {"label": LABEL, "messages": [LAUNCH, {**LAUNCH, "kind": "boom"}]})
    with pytest.raises(InvalidInput, match="messages: a list of 1 to"):
        batch_from_dict(node, {"label": LABEL, "messages": [LAUNCH] * (MAX_MESSAGES + 1)})
    with pytest.raises(InvalidInput, match="label.purpose"):
        batch_from_dict(node, {"label": {**LABEL, "purpose": " "}, "messages": [LAUNCH]})
    with pytest.raises(InvalidInput, match="label.topics"):
        batch_from_dict(node, {"label": {**LABEL, "topics": []}, "messages": [LAUNCH]})
    with pytest.raises(InvalidInput, match="label"):
        batch_from_dict(node, {"label": {**LABEL, "classification": "XYZ:II"}, "messages": [LAUNCH]})
    with pytest.raises(InvalidInput, match="a batch is a JSON object"):
        batch_from_dict(node, [LAUNCH])
