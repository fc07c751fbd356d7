"""`gsomia feed post|tail|streams` against running nodes: KOR and the US hub serve on loopback (KOR's feed is
linked to USA's), JPN is configured but not running. Tracks posted at KOR with a releasing official's token
are originated by KOR's running node (decided and audited), followed there and at USA by a reader's `tail`,
and listed by `streams`; refusals and bad input exit as documented."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.running import invoke, serving
from tests.federation.harness import wait_for

from gsomia.demo.loopback import LoopbackNode

LABEL = ["--classification", "KOR:II", "--rel", "USA,JPN", "--topics", "dprk-missile", "--purpose", "missile warning"]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LoopbackNode]]:
    with serving(tmp_path_factory.mktemp("cli-feed"), "KOR", "USA") as specs:
        yield specs


def tracks(stream: str, count: int = 3) -> str:
    now = time.time()
    launch = {"stream": stream, "kind": "launch", "sensor": "radar-1", "time": now, "stale": now + 60,
              "point": {"lat": 39.0, "lon": 125.7}}
    updates = [{"stream": stream, "kind": "update", "sensor": "radar-1", "time": now + i, "stale": now + 60 + i,
                "position": {"lat": 39.0 + i / 10, "lon": 126.0, "alt_m": 50_000.0},
                "velocity": {"east": 900.0, "north": 100.0, "up": 1500.0}} for i in range(1, count)]
    return "\n".join(json.dumps(m) for m in [launch, *updates]) + "\n"


def tail(node: LoopbackNode, token: str, count: int, *extra: str) -> list[dict[str, Any]]:
    result = invoke(node, token, "feed", "tail", "--count", str(count), "--timeout", "30", "--json", *extra)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_posted_tracks_are_originated_by_the_running_node_and_followed_across_the_border(
        nodes: dict[str, LoopbackNode]) -> None:
    kor, usa = nodes["KOR"], nodes["USA"]
    stream = f"KOR-CLI-{time.time_ns()}"
    posted = json.loads(invoke(kor, kor.tokens["releaser"], "feed", "post", *LABEL, "--json",
                               stdin=tracks(stream)).stdout)
    assert posted == {"accepted": 3, "streams": {stream: 3}}
    at_kor = tail(kor, kor.tokens["analyst"], 3, "--stream", stream)
    assert [(m["seq"], m["kind"]) for m in at_kor] == [(1, "launch"), (2, "update"), (3, "update")]
    assert at_kor[0]["classification"] == "KOR:II" and at_kor[0]["originator"] == "KOR"
    at_usa = tail(usa, usa.tokens["analyst"], 3, "--stream", stream)  # released to the hub, re-marked there (R4.4)
    assert [m["seq"] for m in at_usa] == [1, 2, 3] and at_usa[0]["classification"].startswith("KOR:II / USA:")
    listed = wait_for(lambda: [s for s in json.loads(invoke(kor, kor.tokens["analyst"], "feed", "streams", "--json")
                                                    .stdout) if s["stream"] == stream], "the stream written behind")
    assert listed[0]["newest_seq"] == 3
    more = invoke(kor, kor.tokens["releaser"], "feed", "post", *LABEL, stdin=tracks(stream, 1).replace(
        '"kind": "launch"', '"seq": 4, "kind": "launch"')).output
    assert f"{stream} up to #4" in more
    assert "keeps the label" in invoke(kor, kor.tokens["releaser"], "feed", "post", "--classification", "KOR:III",
                                       *LABEL[2:], stdin=tracks(stream, 1), code=5).output
    lines = invoke(kor, kor.tokens["analyst"], "feed", "tail", "--count", "1", "--stream", stream).stdout
    assert stream in lines and "#1 launch 39.0000,125.7000" in lines and "[KOR:II]" in lines


def test_a_refused_post_exits_3_with_its_rules_and_starts_no_stream(nodes: dict[str, LoopbackNode],
                                                                   tmp_path: Path) -> None:
    kor = nodes["KOR"]
    no_topic = invoke(kor, "", "officials", "appoint", "--name", "Kim", "--clearance", "KOR:II", "--topic",
                      "weather", "--role", "releasing_official", "--reason", "desk", "--quiet").stdout.strip()
    token_file = tmp_path / "kim.token"
    invoke(kor, "", "officials", "token", no_topic, "--reason", "own", "--out", str(token_file))
    stream = f"KOR-REFUSED-{time.time_ns()}"
    refused = invoke(kor, token_file.read_text().strip(), "feed", "post", *LABEL, stdin=tracks(stream), code=3)
    assert "refused (R7.2" in refused.output and "need-to-know" in refused.output
    assert not [s for s in json.loads(invoke(kor, kor.tokens["analyst"], "feed", "streams", "--json").stdout)
                if s["stream"] == stream]


@pytest.mark.parametrize("stdin,message", [
    ('{"stream": "S-1", "kind": "boom", "sensor": "r", "time": 1, "stale": 2}', "message 1.kind"),
    ('{"stream": "S-1", "kind": "launch", "sensor": "r", "time": 1, "stale": 2, "point": {"lat": 91, "lon": 0}}',
     "message 1.point.lat"),
    ("not json", "line 1 is not JSON"),
    ("", "no track message"),
], ids=["kind", "latitude", "not-json", "empty"])
def test_bad_tracks_exit_2_and_send_nothing(nodes: dict[str, LoopbackNode], stdin: str, message: str) -> None:
    kor = nodes["KOR"]
    assert message in invoke(kor, kor.tokens["releaser"], "feed", "post", *LABEL, stdin=stdin, code=2).output


def test_the_feed_wants_a_token_and_a_running_node(nodes: dict[str, LoopbackNode]) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    assert "GSOMIA_TOKEN" in invoke(kor, "", "feed", "post", *LABEL, stdin=tracks("S-2"), code=2).output
    assert "GSOMIA_TOKEN" in invoke(kor, "", "feed", "tail", "--count", "1", code=2).output
    assert "refused" in invoke(kor, "gsomia_wrong", "feed", "post", *LABEL, stdin=tracks("S-2"), code=3).output
    assert "label.purpose" in invoke(kor, kor.tokens["releaser"], "feed", "post", "--classification", "KOR:II",
                                 "--topics", "dprk-missile", "--purpose", " ", stdin=tracks("S-2"), code=2).output
    down = invoke(jpn, jpn.tokens["releaser"], "feed", "post", "--classification", "JPN:GOKUHI", "--topics",
                  "dprk-missile", "--purpose", "p", stdin=tracks("S-3"), code=1).output
    assert "not reachable" in down and "gsomia serve" in down
    assert "not reachable" in invoke(jpn, jpn.tokens["analyst"], "feed", "tail", "--count", "1", code=1).output
    assert json.loads(invoke(jpn, jpn.tokens["analyst"], "feed", "streams", "--json").stdout) == []
