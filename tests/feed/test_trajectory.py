"""The simulated launch: physically plausible, lands in the Sea of Japan, deterministic per seed."""

from __future__ import annotations

from itertools import pairwise

import pytest

from gsomia.domain.tracks import EndOfTrack, ImpactPrediction, LaunchEvent, TrackUpdate
from gsomia.feed.trajectory import SINPO, SUNAN, TrackSource, ballistic_track, fly, scenario_for_seed

from .helpers import make_label

START = 1_800_000_000.0


def in_sea_of_japan(lat: float, lon: float) -> bool:
    # A box wholly at sea between the Korean east coast and Honshu's west coast.
    return 37.0 <= lat <= 41.8 and 130.5 <= lon <= 138.5


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("site", [SUNAN, SINPO])
def test_flight_lands_in_the_sea_of_japan_with_a_plausible_apogee(seed: int, site: object) -> None:
    from gsomia.domain.tracks import Position
    assert isinstance(site, Position)
    flight = fly(scenario_for_seed(seed, site))
    assert in_sea_of_japan(flight.impact.lat, flight.impact.lon), flight
    # Lofted medium-range shots as reported: apogee hundreds of km, range several hundred km.
    assert 300_000 < flight.apogee_m < 1_500_000
    assert 400 < flight.range_km < 1_200
    assert 300 < flight.flight_time_s < 1_500


def test_track_has_launch_updates_predictions_and_end_in_order() -> None:
    source = TrackSource(make_label(), "KOR-T1", rate_hz=10.0)
    msgs = list(ballistic_track(scenario_for_seed(3), source, START, seed=3))
    assert isinstance(msgs[0].body, LaunchEvent)
    assert isinstance(msgs[-1].body, EndOfTrack)
    assert [m.seq for m in msgs] == list(range(1, len(msgs) + 1))
    assert all(a.time <= b.time for a, b in pairwise(msgs))
    updates = [m for m in msgs if isinstance(m.body, TrackUpdate)]
    predictions = [m.body for m in msgs if isinstance(m.body, ImpactPrediction)]
    assert len(updates) > 10 * 300  # tens of updates a second over a flight of minutes
    assert max(u.body.position.alt_m for u in updates if isinstance(u.body, TrackUpdate)) > 300_000
    # Predictions tighten as the flight goes on, and the last ones land at sea.
    assert predictions[-1].error.ce_m < predictions[len(predictions) // 4].error.ce_m < predictions[0].error.ce_m
    assert in_sea_of_japan(predictions[-1].point.lat, predictions[-1].point.lon)
    assert all(m.stale > m.time for m in msgs)


def test_same_seed_same_track_different_seed_different_track() -> None:
    source = TrackSource(make_label(), "KOR-T1", rate_hz=5.0)
    a = list(ballistic_track(scenario_for_seed(1), source, START, seed=1))
    b = list(ballistic_track(scenario_for_seed(1), source, START, seed=1))
    c = list(ballistic_track(scenario_for_seed(2), source, START, seed=2))
    assert a == b
    assert a != c
