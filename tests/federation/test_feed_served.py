"""The missile-warning feed carried by the running nodes: a launch posted to KOR's officials' API reaches a
JPN watch officer's subscriber through the US hub, policy-checked at every hop (release by the official
who started the stream, relay under KOR's standing written consent T5, receipt and re-marking R4.4, read
R7.2), in order and with no gap. Pushes need the partner's pinned client certificate; pulls a token."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all, wait_for
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gsomia.crypto import PublicKeys, export_public
from gsomia.data import load_catalog
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.domain.labels import Label
from gsomia.domain.tracks import EndOfTrack, LaunchEvent
from gsomia.feed.link import hello, new_nonce
from gsomia.feed.subscriber import FeedSubscriber, Update
from gsomia.services.partners import load_partners

pytestmark = pytest.mark.slow
LABEL = {"classification": "KOR:II", "releasable_to": ["KOR", "USA", "JPN"], "topics": ["dprk-missile"],
         "purpose": "missile warning"}


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningNode]]:
    base: Path = tmp_path_factory.mktemp("feed")
    specs = create_federation(base, passphrase=PASSPHRASE)
    running = {party: start(spec) for party, spec in specs.items()}
    consent = running["KOR"].client("officer").post("/v1/consents", json={
        "to": "JPN", "topics": ["dprk-missile"], "purpose": "TISA missile warning through the US hub"})
    assert consent.status_code == 201, consent.text
    yield running
    stop_all(running)


def track(stream: str, count: int, start_seq: int = 1) -> list[dict[str, Any]]:
    """A launch, updates and an end of track: `count` messages numbered from `start_seq`."""
    now = time.time()
    out: list[dict[str, Any]] = []
    for i in range(count):
        seq = start_seq + i
        base = {"stream": stream, "seq": seq, "sensor": "KOR-S1", "time": now + i * 0.05, "stale": now + 600}
        if seq == 1:
            out.append({**base, "kind": "launch", "point": {"lat": 39.0, "lon": 125.7, "alt_m": 0},
                        "error": {"ce_m": 500, "le_m": 200}})
        elif i == count - 1 and seq > 3:
            out.append({**base, "kind": "end", "reason": "impact"})
        elif seq == 3:
            out.append({**base, "kind": "impact", "point": {"lat": 40.5, "lon": 135.0, "alt_m": 0},
                        "error": {"ce_m": 20_000}, "impact_time": now + 600})
        else:
            out.append({**base, "kind": "update", "position": {"lat": 39.0 + seq / 100, "lon": 126 + seq / 10,
                                                                "alt_m": 1000.0 * seq},
                        "velocity": {"east": 2000.0, "north": 100.0, "up": 500.0}})
    return out


def post(node: RunningNode, who: str, messages: list[dict[str, Any]], label: dict[str, Any] = LABEL) -> Any:
    return node.client(who).post("/v1/feed/tracks", json={"label": label, "messages": messages})


def subscriber_for(spec: LoopbackNode, token: str, on_update: Any = None) -> FeedSubscriber:
    keys = PublicKeys.from_dict(export_public(spec.data))
    assert isinstance(keys.verify_key, Ed25519PublicKey)
    catalog = load_catalog()
    context = ssl.create_default_context(cafile=str(spec.root_certificate))
    return FeedSubscriber(spec.feed_url, "jpn-watch", keys.node, keys.verify_key,
                          lambda data: Label.from_canonical(data, catalog.schemes), ssl_context=context,
                          headers={"Authorization": f"Bearer {token}"}, on_update=on_update)


def streams(node: RunningNode, who: str = "analyst") -> dict[str, dict[str, Any]]:
    response = node.client(who).get("/v1/feed/streams")
    assert response.status_code == 200, response.text
    return {s["stream"]: s for s in response.json()}


def test_a_launch_posted_to_kor_reaches_jpn_through_the_us_hub_with_no_gap(
        federation: dict[str, RunningNode]) -> None:
    kor, usa, jpn = federation["KOR"], federation["USA"], federation["JPN"]
    seen: list[Update] = []
    subscriber = subscriber_for(jpn.spec, jpn.spec.tokens["analyst"], seen.append)

    async def scenario() -> None:
        task = asyncio.ensure_future(subscriber.run())
        try:
            await asyncio.wait_for(subscriber.connected.wait(), 10)
            first = await asyncio.to_thread(post, kor, "releaser", track("KOR-S1-TEST-1", 10))
            assert first.status_code == 200, first.text
            assert first.json() == {"accepted": 10, "streams": {"KOR-S1-TEST-1": 10}}
            # Numbered by the node when the sensor leaves seq out.
            rest = [{k: v for k, v in m.items() if k != "seq"} for m in track("KOR-S1-TEST-1", 30, start_seq=11)]
            second = await asyncio.to_thread(post, kor, "releaser", rest)
            assert second.status_code == 200, second.text
            assert second.json()["streams"] == {"KOR-S1-TEST-1": 40}
            async with asyncio.timeout(20):
                while len(seen) < 40:
                    await asyncio.sleep(0.02)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert [u.msg.seq for u in seen] == list(range(1, 41))  # in order, no gap, nothing twice
    assert not any(u.late for u in seen)
    assert subscriber.tracker.missing("KOR-S1-TEST-1") == []
    assert isinstance(seen[0].msg.body, LaunchEvent) and isinstance(seen[-1].msg.body, EndOfTrack)
    label = seen[0].msg.label
    # Provided by the US hub, held by JPN under its own equivalent marking besides KOR's (R4.4).
    assert (label.originator, label.provider, str(label.classification)) == ("KOR", "USA", "KOR:II")
    assert label.national_marking is not None and label.national_marking.party == "JPN"
    at_usa = streams(usa)["KOR-S1-TEST-1"]
    assert (at_usa["provider"], at_usa["newest_seq"]) == ("KOR", 40)
    assert streams(jpn)["KOR-S1-TEST-1"]["newest_seq"] == 40
    assert streams(kor)["KOR-S1-TEST-1"]["provider"] is None


def test_each_hop_filters_by_policy(federation: dict[str, RunningNode]) -> None:
    kor, usa, jpn = federation["KOR"], federation["USA"], federation["JPN"]
    # Not releasable to JPN: KOR releases it to the hub, which may not relay it (G1).
    not_jpn = post(kor, "releaser", track("KOR-S1-NOT-JPN", 4), {**LABEL, "releasable_to": ["KOR", "USA"]})
    # A topic KOR's standing consent does not cover: the hub may not pass it on (T5).
    nuclear = post(kor, "releaser", track("KOR-S1-NUCLEAR", 4), {**LABEL, "topics": ["dprk-nuclear"]})
    # Started by the security officer, who holds no releasing role: it stays at home (R6.e).
    officer = post(kor, "officer", track("KOR-S1-OFFICER", 4))
    # A marker stream that does go all the way, posted last: once it is at JPN, the others had their chance.
    marker = post(kor, "releaser", track("KOR-S1-MARKER", 4))
    for response in (not_jpn, nuclear, officer, marker):
        assert response.status_code == 200, response.text
    wait_for(lambda: "KOR-S1-MARKER" in streams(jpn), "the marker stream at JPN")
    wait_for(lambda: {"KOR-S1-NOT-JPN", "KOR-S1-NUCLEAR"} <= set(streams(usa)), "the hub's streams")
    assert "KOR-S1-OFFICER" not in streams(usa) and "KOR-S1-OFFICER" in streams(kor)
    assert not {"KOR-S1-NOT-JPN", "KOR-S1-NUCLEAR", "KOR-S1-OFFICER"} & set(streams(jpn))


def test_publishing_needs_a_token_an_originator_and_one_owner_per_stream(federation: dict[str, RunningNode]) -> None:
    kor = federation["KOR"]
    anonymous = kor.client("releaser").post("/v1/feed/tracks", headers={"authorization": ""},
                                            json={"label": LABEL, "messages": track("KOR-S1-ANON", 1)})
    assert anonymous.status_code == 401
    foreign = post(kor, "releaser", track("KOR-S1-FOREIGN", 1), {**LABEL, "classification": "USA:S"})
    assert foreign.status_code in (400, 403, 422), foreign.text
    assert post(kor, "releaser", track("KOR-S1-OWNED", 2)).status_code == 200
    hijack = post(kor, "analyst", track("KOR-S1-OWNED", 1, start_seq=3))
    assert hijack.status_code == 403, hijack.text
    relabelled = post(kor, "releaser", track("KOR-S1-OWNED", 1, start_seq=3), {**LABEL, "purpose": "other"})
    assert relabelled.status_code == 409, relabelled.text
    bad = post(kor, "releaser", [{**track("KOR-S1-BAD", 2)[1], "kind": "update", "velocity": None}])
    assert bad.status_code == 422 and "velocity" in bad.text, bad.text  # an update needs its velocity


def test_the_feed_admits_pushes_only_with_the_partners_certificate_and_pulls_only_with_a_token(
        federation: dict[str, RunningNode]) -> None:
    usa, jpn = federation["USA"], federation["JPN"]
    kor_node = load_partners(usa.spec.data).by_party["KOR"].keys.node
    context = ssl.create_default_context(cafile=str(usa.spec.root_certificate))

    async def refused(url: str, greeting: str, ctx: ssl.SSLContext, headers: dict[str, str] | None = None) -> int:
        try:
            async with websockets.connect(url, ssl=ctx, additional_headers=headers, open_timeout=5) as ws:
                await ws.send(greeting)
                await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else -1
        except InvalidStatus as status:
            return status.response.status_code
        return 0

    # Claims to be KOR's node, but presents no client certificate.
    assert asyncio.run(refused(usa.spec.feed_url, hello("push", kor_node, {}, new_nonce()), context)) == 4403
    jpn_context = ssl.create_default_context(cafile=str(jpn.spec.root_certificate))
    pull = hello("pull", "jpn-watch", {}, new_nonce())
    assert asyncio.run(refused(jpn.spec.feed_url, pull, jpn_context)) == 4403
    assert asyncio.run(refused(jpn.spec.feed_url, pull, jpn_context, {"Authorization": "Bearer not-a-token"})) == 4403
