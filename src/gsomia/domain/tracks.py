"""Missile-warning track messages: what a sensor reports about one launch, as plain data.

A *stream* is one track as seen by one originator's sensor: a launch event, many track updates,
impact predictions as they firm up, and an end of track. Every message carries the stream's label
and a stale time after which it no longer stands (as Cursor-on-Target's `stale` does).

Times are POSIX seconds (UTC) as floats rather than datetimes: at thousands of messages a second
the conversion cost shows, and every consumer (CoT, latency sums, staleness) wants arithmetic.

Plain data of the domain: the feed encodes and carries them (`gsomia.feed.wire`, `gsomia.feed.cot`),
the services originate them (`gsomia.services.feed`), the API builds them from what a sensor posts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple, Protocol

from gsomia.domain.labels import Label

# Cursor-on-Target's "unknown" for ce/le (a blank is not allowed there, and we keep the same rule).
UNKNOWN_ERROR = 9_999_999.0

# The digest that stands for a label on the wire; 16 bytes of SHA-256 is ample to name a label
# among the few a node holds, and halves the per-message overhead against the full 32.
LABEL_DIGEST_SIZE = 16


def label_digest(label: Label) -> bytes:
    return hashlib.sha256(label.canonical_bytes()).digest()[:LABEL_DIGEST_SIZE]


def instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


@dataclass(frozen=True, slots=True)
class Position:
    lat: float    # degrees, WGS 84
    lon: float    # degrees, WGS 84
    alt_m: float  # metres above the ellipsoid (CoT's hae)


@dataclass(frozen=True, slots=True)
class Velocity:
    east: float   # m/s
    north: float  # m/s
    up: float     # m/s


@dataclass(frozen=True, slots=True)
class Uncertainty:
    """Circular horizontal error and vertical error (CoT ce / le), metres; UNKNOWN_ERROR if unknown.

    `covariance` optionally holds the 3×3 ENU position covariance, row-major upper triangle
    (xx, xy, xz, yy, yz, zz), for consumers that fuse tracks; radii alone serve display.
    """

    ce_m: float = UNKNOWN_ERROR
    le_m: float = UNKNOWN_ERROR
    covariance: tuple[float, float, float, float, float, float] | None = None


@dataclass(frozen=True, slots=True)
class LaunchEvent:
    point: Position
    error: Uncertainty


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    position: Position
    velocity: Velocity
    error: Uncertainty


@dataclass(frozen=True, slots=True)
class ImpactPrediction:
    point: Position
    error: Uncertainty        # the impact area: ce is its radius
    impact_time: float        # predicted POSIX seconds of impact


@dataclass(frozen=True, slots=True)
class EndOfTrack:
    reason: str               # e.g. "impact", "lost", "splash-confirmed"


Body = LaunchEvent | TrackUpdate | ImpactPrediction | EndOfTrack


@dataclass(frozen=True, slots=True)
class TrackMessage:
    stream: str               # one track from one originator's sensor, e.g. "KOR-S1-20261122-001"
    seq: int                  # per stream, from 1, no gaps: a gap is a loss to repair
    originator: str           # the party whose information it is (KOR, JPN, USA)
    sensor: str
    time: float               # observation time, POSIX seconds
    stale: float              # after this instant the message no longer stands
    label: Label
    body: Body
    # Computed once: the digest is what filters and caches key on, never the label's fields.
    digest: bytes = field(default=b"", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", label_digest(self.label))

    def is_stale(self, now: float) -> bool:
        return now >= self.stale

    @property
    def kind(self) -> str:
        return type(self.body).__name__


class Header(NamedTuple):
    """A message as a hop sees it: what it routes, gates, sequences and buffers on, without the body.

    A relay decodes only this from each frame (the body is checked for shape and stays in the frame,
    bytes for bytes); the body is decoded where it is shown (a subscriber, a CoT client). A NamedTuple:
    built per message per hop, it must cost a tuple, not a frozen dataclass.
    """

    stream: str
    seq: int
    originator: str
    stale: float
    label: Label
    digest: bytes


class Routed(Protocol):
    """What gates, sequence tracking and the broker read of a message: a `TrackMessage` or a `Header`."""

    @property
    def stream(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def originator(self) -> str: ...
    @property
    def stale(self) -> float: ...
    @property
    def label(self) -> Label: ...
    @property
    def digest(self) -> bytes: ...
