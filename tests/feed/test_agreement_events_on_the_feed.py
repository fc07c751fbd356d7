"""A running feed decides under the node's agreement events at once: when an event changes an agreement's
state, every gate forgets its cached decisions (not only at the next hour) and decides under the new catalogue."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from gsomia.domain.officials import Official, Role
from gsomia.domain.schemes import Classification
from gsomia.domain.tracks import EndOfTrack, TrackMessage
from gsomia.feed.dissemination import ReaderFilter
from gsomia.services import agreement_events
from gsomia.services.context import Actor
from gsomia.services.officials import authenticate

from .helpers import make_label
from .served import kor_feed

MARITIME = "maritime"  # outside TISA's scope (T1): only the GSOMIA covers it between JPN and KOR


def test_R21_4_a_termination_recorded_while_the_feed_runs_stops_reads_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with kor_feed(tmp_path) as (feed, spec):
            node = feed.node
            reader = Official(party="KOR", clearance=Classification("KOR", "II"), clearance_expires=None,
                              need_to_know=frozenset({MARITIME}), roles=frozenset({Role.READER}), id="kor-reader")
            held = make_label("GOKUHI", topics=(MARITIME,), originator="JPN").received("JPN",
                                                                                     Classification("KOR", "II"))
            now = node.clock().timestamp()
            message = TrackMessage("JPN-T1", 1, "JPN", "radar", now, now + 60, held, EndOfTrack("x"))
            gate = ReaderFilter(feed.decider, feed.feed.clock, reader)
            feed.feed.reader_gates.add(gate)
            assert gate.allows(message) and gate.decisions_made == 1
            assert gate.allows(message) and gate.decisions_made == 1  # cached until the hour …
            chief = Actor(authenticate(node, spec.tokens["chief"], via="cli-token"), "cli-token")
            # JPN's notice, given in January 2025, ended the GSOMIA on 23 Nov 2025: recorded only now.
            await asyncio.to_thread(agreement_events.record_notice, node, chief, "jpn-kor-gsomia-2016", by="JPN",
                                    kind="termination", given=date(2025, 1, 10), reference="JPN note 2025/1")
            for _ in range(200):  # the feed's loop takes the new catalogue on its next turns
                if feed.feed.catalog is node.catalog:
                    break
                await asyncio.sleep(0.01)
            assert feed.feed.catalog is node.catalog
            assert not gate.allows(message) and gate.decisions_made == 2  # … or until an event applies
            assert "R21.4" in gate.decision(message).rules

    asyncio.run(scenario())
