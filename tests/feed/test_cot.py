"""Cursor-on-Target codec: round trips with the label, plain TAK input, hostile XML refused."""

from __future__ import annotations

import pytest

from gsomia.domain.catalog import Catalog
from gsomia.domain.tracks import (
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
from gsomia.feed.cot import TYPE_IMPACT, TYPE_LAUNCH, TYPE_TRACK, CotDefaults, CotWriter, parse_cot
from gsomia.feed.errors import CotError
from gsomia.feed.trajectory import TrackSource, ballistic_track, scenario_for_seed

from .helpers import make_label

LABEL = make_label()


def test_every_kind_round_trips(catalog: Catalog) -> None:
    writer = CotWriter()
    bodies: list[Body] = [
        LaunchEvent(Position(39.0, 125.7, 0.0), Uncertainty(5000.0, 9999999.0)),
        TrackUpdate(Position(39.1, 126.0, 120_000.5), Velocity(1500.25, -3.5, 900.0), Uncertainty(300.0, 450.0)),
        ImpactPrediction(Position(39.5, 134.2, 0.0), Uncertainty(20_000.0, 9999999.0), 1_800_000_600.5),
        EndOfTrack("impact"),
    ]
    for seq, body in enumerate(bodies, 1):
        msg = TrackMessage("KOR-T1", seq, "KOR", "KOR-GP-1", 1_800_000_000.25, 1_800_000_005.25, LABEL, body)
        xml = writer.write(msg)
        back = parse_cot(xml, catalog.schemes)
        if isinstance(body, EndOfTrack):
            assert back.body == body and back.stream == msg.stream
        else:
            assert back == msg
        assert back.label == LABEL


def test_cot_shape_is_what_tak_expects(catalog: Catalog) -> None:
    source = TrackSource(LABEL, "KOR-T9", rate_hz=2.0)
    writer = CotWriter()
    kinds: dict[str, str] = {}
    for msg in ballistic_track(scenario_for_seed(0), source, 1_800_000_000.0):
        xml = writer.write(msg).decode()
        kinds.setdefault(msg.kind, xml)
    assert f'type="{TYPE_LAUNCH}"' in kinds["LaunchEvent"] and 'uid="KOR-T9.launch"' in kinds["LaunchEvent"]
    assert f'type="{TYPE_TRACK}"' in kinds["TrackUpdate"] and 'uid="KOR-T9"' in kinds["TrackUpdate"]
    assert f'type="{TYPE_IMPACT}"' in kinds["ImpactPrediction"]
    assert 'le="9999999.0"' in kinds["LaunchEvent"]  # unknown is 9999999, never blank
    assert "<slab:Classification>KOR:II</slab:Classification>" in kinds["TrackUpdate"]


def test_plain_tak_input_takes_the_listener_defaults(catalog: Catalog) -> None:
    numbers: dict[str, int] = {}

    def next_seq(stream: str) -> int:
        numbers[stream] = numbers.get(stream, 0) + 1
        return numbers[stream]

    defaults = CotDefaults(LABEL, "KOR", "tak-bridge", next_seq)
    xml = (b'<event version="2.0" uid="T-1" type="a-h-A-M" how="m-g" time="2026-11-22T12:00:00Z"'
           b' start="2026-11-22T12:00:00Z" stale="2026-11-22T12:00:10Z"><point lat="39.2" lon="127.0"'
           b' hae="50000" ce="9999999" le="9999999"/><detail><track course="90" speed="1000"/></detail></event>')
    first, second = parse_cot(xml, catalog.schemes, defaults), parse_cot(xml, catalog.schemes, defaults)
    assert (first.stream, first.seq, second.seq) == ("cot-T-1", 1, 2)
    assert first.label == LABEL and first.stale - first.time == 10.0
    assert isinstance(first.body, TrackUpdate) and round(first.body.velocity.east) == 1000
    with pytest.raises(CotError, match="no gsomia label"):
        parse_cot(xml, catalog.schemes)


@pytest.mark.parametrize("xml", [
    b"",
    b"<event",
    b"<notevent/>",
    b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY x "boom">]><event uid="a">&x;</event>',
    b'<!DOCTYPE event SYSTEM "http://127.0.0.1:1/x.dtd"><event/>',
    b'<event uid="a" time="2026-11-22T12:00:00Z" stale="2026-11-22T12:00:10Z"/>',
    b'<event uid="a"><point lat="north" lon="1"/></event>',
    b'<event uid="a"><point lat="91" lon="1"/></event>',
    b"<event>" + b"x" * 70_000 + b"</event>",
])
def test_bad_or_hostile_input_raises_cot_error(xml: bytes, catalog: Catalog) -> None:
    defaults = CotDefaults(LABEL, "KOR", "tak-bridge", lambda s: 1)
    with pytest.raises(CotError):
        parse_cot(xml, catalog.schemes, defaults)


def test_a_label_with_an_unknown_classification_is_refused(catalog: Catalog) -> None:
    msg = TrackMessage("KOR-T1", 1, "KOR", "s", 1.0, 2.0, LABEL, EndOfTrack("x"))
    xml = CotWriter().write(msg).replace(b"KOR:II<", b"KOR:IX<")
    with pytest.raises(CotError, match="label is not valid"):
        parse_cot(xml, catalog.schemes)
