"""A simple ballistic launch, to feed the pipeline, the tests and the benchmark with realistic tracks.

Physics kept to what makes the numbers plausible: a powered boost along a pitch programme, then
free flight under inverse-square gravity over a spherical, non-rotating Earth, integrated in the
plane of the launch great circle (polar coordinates r, θ). No drag: above ~30 km it hardly matters
for a warning feed, and the boost parameters are tuned for burnout state anyway.

The "sensor" reports the true state plus seeded noise whose error radii shrink as the track matures;
impact predictions propagate the *reported* state, so they wander and tighten as real ones do.
Deterministic for a seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace

from gsomia.domain.labels import Label
from gsomia.domain.tracks import (
    EndOfTrack,
    ImpactPrediction,
    LaunchEvent,
    Position,
    TrackMessage,
    TrackUpdate,
    Uncertainty,
    Velocity,
    label_digest,
)

EARTH_RADIUS_M = 6_371_000.0
MU = 3.986004418e14  # Earth's gravitational parameter, m³/s²

# Launch areas used in public reporting of DPRK tests.
SUNAN = Position(39.02, 125.68, 30.0)   # near Pyongyang
SINPO = Position(40.03, 128.18, 5.0)    # east coast, submarine-launched tests


@dataclass(frozen=True, slots=True)
class LaunchScenario:
    site: Position
    azimuth_deg: float          # initial bearing of the launch great circle
    burn_time_s: float
    thrust_accel: float         # m/s², constant over the burn
    burnout_pitch_deg: float    # flight-path angle the pitch programme ends at (high = lofted)


def scenario_for_seed(seed: int, site: Position = SUNAN) -> LaunchScenario:
    """A lofted medium-range shot eastward into the Sea of Japan, varied by seed."""
    rng = random.Random(seed)
    return LaunchScenario(
        site=site,
        azimuth_deg=rng.uniform(78.0, 98.0),
        burn_time_s=rng.uniform(68.0, 78.0),
        thrust_accel=rng.uniform(50.0, 56.0),
        burnout_pitch_deg=rng.uniform(52.0, 60.0),
    )


@dataclass(frozen=True, slots=True)
class _State:
    r: float    # distance from Earth's centre, m
    th: float   # central angle travelled along the great circle, rad
    vr: float   # radial (up) speed, m/s
    vt: float   # tangential (downrange) speed, m/s


def _pitch(scenario: LaunchScenario, t: float) -> float:
    """Vertical rise for 8 s, then a linear pitch-over to the burnout angle."""
    if t < 8.0:
        return math.pi / 2
    frac = min(1.0, (t - 8.0) / (scenario.burn_time_s - 8.0))
    return math.radians(90.0 + frac * (scenario.burnout_pitch_deg - 90.0))


def _step(s: _State, dt: float, accel: float, pitch: float) -> _State:
    """One midpoint (RK2) step of the planar two-body equations with thrust."""
    def deriv(x: _State) -> tuple[float, float, float, float]:
        ar = x.vt * x.vt / x.r - MU / (x.r * x.r) + accel * math.sin(pitch)
        at = -x.vr * x.vt / x.r + accel * math.cos(pitch)
        return x.vr, x.vt / x.r, ar, at

    d1 = deriv(s)
    h = dt / 2
    mid = _State(s.r + h * d1[0], s.th + h * d1[1], s.vr + h * d1[2], s.vt + h * d1[3])
    d2 = deriv(mid)
    return _State(s.r + dt * d2[0], s.th + dt * d2[1], s.vr + dt * d2[2], s.vt + dt * d2[3])


def _ground(site: Position, azimuth: float, th: float) -> tuple[float, float, float]:
    """Latitude, longitude and the local bearing (all degrees) after a central angle th."""
    lat1, lon1, az = math.radians(site.lat), math.radians(site.lon), math.radians(azimuth)
    lat2 = math.asin(math.sin(lat1) * math.cos(th) + math.cos(lat1) * math.sin(th) * math.cos(az))
    lon2 = lon1 + math.atan2(math.sin(az) * math.sin(th) * math.cos(lat1),
                             math.cos(th) - math.sin(lat1) * math.sin(lat2))
    # The bearing onward at the new point is the reverse of the bearing back to the site, turned.
    back = math.atan2(math.sin(lon1 - lon2) * math.cos(lat1),
                      math.cos(lat2) * math.sin(lat1) - math.sin(lat2) * math.cos(lat1) * math.cos(lon1 - lon2))
    return math.degrees(lat2), (math.degrees(lon2) + 540.0) % 360.0 - 180.0, (math.degrees(back) + 180.0) % 360.0


def _coast_to_ground(s: _State, ground_r: float, dt: float = 2.0) -> tuple[_State, float]:
    """Free flight until the surface; the state at impact and the time it took (bounded loop)."""
    t = 0.0
    for _ in range(20_000):
        nxt = _step(s, dt, 0.0, 0.0)
        if nxt.r <= ground_r:
            frac = (s.r - ground_r) / max(s.r - nxt.r, 1e-9)
            return _State(ground_r, s.th + frac * (nxt.th - s.th), nxt.vr, nxt.vt), t + frac * dt
        s, t = nxt, t + dt
    return s, t


@dataclass(frozen=True, slots=True)
class FlightSummary:
    apogee_m: float
    impact: Position
    flight_time_s: float
    range_km: float


def fly(scenario: LaunchScenario, dt: float = 0.05) -> FlightSummary:
    """The true flight, without a sensor: what the tests check the physics by."""
    apogee, t = 0.0, 0.0
    s = _State(EARTH_RADIUS_M + scenario.site.alt_m, 0.0, 0.0, 0.0)
    for _ in range(int(3600 / dt)):
        powered = t < scenario.burn_time_s
        s = _step(s, dt, scenario.thrust_accel if powered else 0.0, _pitch(scenario, t))
        t += dt
        apogee = max(apogee, s.r - EARTH_RADIUS_M)
        if s.r <= EARTH_RADIUS_M and t > scenario.burn_time_s:
            break
    lat, lon, _ = _ground(scenario.site, scenario.azimuth_deg, s.th)
    return FlightSummary(apogee, Position(lat, lon, 0.0), t, s.th * EARTH_RADIUS_M / 1000.0)


@dataclass(frozen=True, slots=True)
class TrackSource:
    """Who reports the track, under which label, and how often."""

    label: Label
    stream: str
    originator: str = "KOR"
    sensor: str = "KOR-GREENPINE-1"
    rate_hz: float = 20.0            # track updates per second
    impact_every_s: float = 1.0      # impact prediction cadence
    stale_after_s: float = 5.0       # an update older than this no longer stands
    detection_delay_s: float = 6.0   # boost is seen a few seconds after ignition


def ballistic_track(scenario: LaunchScenario, source: TrackSource, start: float,
                    seed: int = 0) -> Iterator[TrackMessage]:
    """Launch event, track updates, impact predictions and end of track, in time order."""
    rng = random.Random(seed)
    digest = label_digest(source.label)
    seq = 0
    dt = 1.0 / source.rate_hz

    def message(t: float, body: LaunchEvent | TrackUpdate | ImpactPrediction | EndOfTrack,
                stale_s: float) -> TrackMessage:
        nonlocal seq
        seq += 1
        return TrackMessage(source.stream, seq, source.originator, source.sensor, start + t,
                            start + t + stale_s, source.label, body, digest)

    s = _State(EARTH_RADIUS_M + scenario.site.alt_m, 0.0, 0.0, 0.0)
    t, next_impact, launched = 0.0, 0.0, False
    for _ in range(int(3600 * source.rate_hz)):
        powered = t < scenario.burn_time_s
        s = _step(s, dt, scenario.thrust_accel if powered else 0.0, _pitch(scenario, t))
        t += dt
        if s.r <= EARTH_RADIUS_M and not powered:
            yield message(t, EndOfTrack("impact"), 60.0)
            return
        if t < source.detection_delay_s:
            continue
        if not launched:
            launched = True
            presumed = Position(scenario.site.lat + rng.gauss(0, 0.02),
                                scenario.site.lon + rng.gauss(0, 0.02), 0.0)
            yield message(t, LaunchEvent(presumed, Uncertainty(5_000.0, 9_999_999.0)), 600.0)
        # Error shrinks as the track matures: fast at first, floored by the sensor's resolution.
        age = t - source.detection_delay_s
        ce = 150.0 + 1_850.0 * math.exp(-age / 30.0)
        le = ce * 1.5
        noisy = replace(s, r=s.r + rng.gauss(0, le / 3), th=s.th + rng.gauss(0, ce / 3) / EARTH_RADIUS_M)
        lat, lon, bearing = _ground(scenario.site, scenario.azimuth_deg, noisy.th)
        b = math.radians(bearing)
        yield message(t, TrackUpdate(
            Position(lat, lon, noisy.r - EARTH_RADIUS_M),
            Velocity(noisy.vt * math.sin(b), noisy.vt * math.cos(b), noisy.vr),
            Uncertainty(ce, le),
        ), source.stale_after_s)
        if t >= next_impact:
            next_impact = t + source.impact_every_s
            hit, time_to_go = _coast_to_ground(noisy, EARTH_RADIUS_M)
            ilat, ilon, _ = _ground(scenario.site, scenario.azimuth_deg, hit.th)
            # Still burning: the prediction ignores remaining thrust, so say how little it knows.
            area = 0.05 * time_to_go * 1000.0 + (50_000.0 if powered else 0.0) + ce
            yield message(t, ImpactPrediction(Position(ilat, ilon, 0.0), Uncertainty(area, 9_999_999.0),
                                              start + t + time_to_go),
                          source.impact_every_s * 3)
