"""Every per-hop decision of the running nodes' feed, allowed or refused, is in the audit trail — release at
KOR, receipt and relay at the hub, receipt and read at JPN — as per-second aggregates with the messages'
count and sequence range, and every node's chain still verifies as `gsomia audit verify` checks it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all, wait_for

from gsomia.demo.loopback import create_federation
from gsomia.domain.officials import OfficialStatus
from gsomia.feed.subscriber import Update
from gsomia.services import audit, officials, signing
from gsomia.services.officials import authenticate
from gsomia.storage.records import AuditEntry

from .served import LABEL, audit_entries, consent_kor_to_jpn, officer, post, subscriber, updates

pytestmark = pytest.mark.slow
ALLOWED, NOT_JPN = "KOR-S1-AUDITED", "KOR-S1-NOT-JPN"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningNode]]:
    base: Path = tmp_path_factory.mktemp("feed-audit")
    running = {party: start(spec) for party, spec in create_federation(base, passphrase=PASSPHRASE).items()}
    consent_kor_to_jpn(running["KOR"])
    yield running
    stop_all(running)


def decided(node: RunningNode, action: str, stream: str, decision: str) -> list[AuditEntry]:
    return [e for e in audit_entries(node) if (e.action, e.subject, e.decision) == (action, stream, decision)]


def counted(entries: list[AuditEntry]) -> int:
    """How many of the stream's messages the aggregates of one decision account for: the sequence numbers
    their summaries ("…; 12 messages, seq 1-12") cover. A message sent twice (a replay after a reconnect,
    on a loaded machine) is covered once."""
    seqs: set[int] = set()
    for entry in entries:
        found = re.search(r"messages?, seq (\d+)-(\d+)(;|$)", entry.reasons[-1])
        if found:
            seqs.update(range(int(found[1]), int(found[2]) + 1))
    return len(seqs)


def test_allowed_and_refused_hops_are_audited_and_the_chains_verify(nodes: dict[str, RunningNode]) -> None:
    kor, usa, jpn = nodes["KOR"], nodes["USA"], nodes["JPN"]
    seen: list[Update] = []
    watch = subscriber(jpn.spec, "analyst", seen)         # cleared, with need-to-know: reads
    unseen: list[Update] = []
    chief = subscriber(jpn.spec, "chief", unseen)          # no need-to-know for missiles: refused (R7.2)

    async def scenario() -> None:
        tasks = [asyncio.ensure_future(s.run()) for s in (watch, chief)]
        try:
            await asyncio.wait_for(watch.connected.wait(), 20)
            await asyncio.wait_for(chief.connected.wait(), 20)
            refused = await asyncio.to_thread(post, kor, "releaser", updates(NOT_JPN, 5),
                                              {**LABEL, "releasable_to": ["KOR", "USA"]})
            allowed = await asyncio.to_thread(post, kor, "releaser", updates(ALLOWED, 20))
            assert refused.status_code == 200 and allowed.status_code == 200, (refused.text, allowed.text)
            async with asyncio.timeout(30):
                while len(seen) < 20:
                    await asyncio.sleep(0.02)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(scenario())
    assert not unseen
    # Allowed, hop by hop, every message accounted for (the aggregates reach the trail within a second or so).
    wait_for(lambda: counted(decided(kor, "feed.release", ALLOWED, "allow")) == 20, "KOR's release aggregates")
    wait_for(lambda: counted(decided(usa, "feed.receive", ALLOWED, "allow")) == 20, "the hub's receipts")
    wait_for(lambda: counted(decided(usa, "feed.relay", ALLOWED, "allow")) == 20, "the hub's relays")
    wait_for(lambda: counted(decided(jpn, "feed.receive", ALLOWED, "allow")) == 20, "JPN's receipts")
    wait_for(lambda: counted(decided(jpn, "feed.read", ALLOWED, "allow")) == 20, "the watch officer's reads")
    release = decided(kor, "feed.release", ALLOWED, "allow")[0]
    assert release.reasons[-1].startswith("to USA; ") and any(r.startswith("agreement: ") for r in release.reasons)
    # Refused: the hub may not relay a track JPN is not in the releasability of (G1), said at once and counted.
    refusals = wait_for(lambda: decided(usa, "feed.relay", NOT_JPN, "deny"), "the hub's refusal to relay")
    assert all(e.rules == ("G1",) and e.reasons[-1].startswith("to JPN; ") for e in refusals)
    assert any("decided at seq 1" in e.reasons[-1] for e in refusals)
    wait_for(lambda: counted(decided(usa, "feed.relay", NOT_JPN, "deny")) == 5, "every refused message counted")
    assert counted(decided(usa, "feed.receive", NOT_JPN, "allow")) == 5  # the hub itself may hold it
    # A reader without need-to-know is refused, audited against the official who asked.
    reads = wait_for(lambda: decided(jpn, "feed.read", ALLOWED, "deny"), "the refused reader")
    chief_id = authenticate(jpn.node, jpn.spec.tokens["chief"]).id
    assert all(e.actor == chief_id and e.reasons[-1].startswith(f"reader {chief_id}; ") for e in reads)
    assert "R7.2" in reads[0].rules
    # No content in the trail: streams, numbers, rules and reasons only.
    assert not any("39.0" in r or "126." in r for e in audit_entries(jpn) for r in e.reasons)
    for node in (kor, usa, jpn):
        key = signing.node_public_key(node.node.settings.effective_keys_dir)
        assert key is not None
        report = audit.verify_store(node.node, officer(node), check_signature=signing.signature_check(key))
        assert report.ok, (node.spec.party, report.problem)


def test_R6_e_a_subscriber_suspended_while_connected_stops_reading_at_the_next_register_poll(
        nodes: dict[str, RunningNode]) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    stream = "KOR-S1-SUSPENDED-READER"
    seen: list[Update] = []
    watch = subscriber(jpn.spec, "analyst", seen)
    analyst_id = authenticate(jpn.node, jpn.spec.tokens["analyst"]).id
    feed = jpn.server.feed
    assert feed is not None

    def suspended_in_feed() -> bool:
        return any(g.subject.id == analyst_id and g.subject.status is OfficialStatus.SUSPENDED
                   for g in list(feed.feed.reader_gates))

    async def scenario() -> None:
        task = asyncio.ensure_future(watch.run())
        try:
            await asyncio.wait_for(watch.connected.wait(), 20)
            assert (await asyncio.to_thread(post, kor, "releaser", updates(stream, 5))).status_code == 200
            async with asyncio.timeout(30):
                while len([u for u in seen if u.msg.stream == stream]) < 5:
                    await asyncio.sleep(0.02)
            await asyncio.to_thread(officials.suspend, jpn.node, officer(jpn), analyst_id, reason="inquiry")
            await asyncio.to_thread(wait_for, suspended_in_feed, "the register poll", 10)
            assert (await asyncio.to_thread(post, kor, "releaser", updates(stream, 5, 6))).status_code == 200
            await asyncio.to_thread(wait_for, lambda: decided(jpn, "feed.read", stream, "deny"), "the refusal", 20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert sorted(u.msg.seq for u in seen if u.msg.stream == stream) == [1, 2, 3, 4, 5]
    refusal = decided(jpn, "feed.read", stream, "deny")[0]
    assert "R6.e" in refusal.rules and refusal.actor == analyst_id
