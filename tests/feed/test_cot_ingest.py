"""CoT ingest is decided and audited as the HTTP ingest is: a CoT listener on a running node originates through
the same use case (`services.feed.publish`), so the first message of each stream asks the policy whether the
listener's official may originate it (R7.2, R6.b), the decision is in the audit trail, allowed or refused, and
a refused stream goes nowhere; an event for a stream another official started is refused too (G2)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all, wait_for

from gsomia.demo.loopback import create_federation
from gsomia.domain.tracks import Position, TrackMessage, TrackUpdate, Uncertainty, Velocity
from gsomia.feed.cot import CotWriter
from gsomia.feed.cot_listener import CotListener
from gsomia.services.officials import authenticate
from gsomia.storage.records import AuditEntry

from .helpers import make_label
from .served import LABEL, audit_entries, post, updates

pytestmark = pytest.mark.slow
T = TypeVar("T")


def on_loop(node: RunningNode, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` in the running node's event loop (where its feed lives) and wait for it."""
    return asyncio.run_coroutine_threadsafe(coro, node.loop).result(10)


def cot_events(stream: str, classification: str, count: int) -> bytes:
    """`count` track updates of `stream` as our own labelled CoT, numbered from 1."""
    now, writer = time.time(), CotWriter()
    body = TrackUpdate(Position(39.0, 126.0, 1000.0), Velocity(2000.0, 100.0, 500.0), Uncertainty())
    return b"".join(writer.write(TrackMessage(stream, seq, "KOR", "KOR-S1", now, now + 600,
                                              make_label(classification), body))
                    for seq in range(1, count + 1))


def originations(node: RunningNode) -> dict[str, AuditEntry]:
    return {e.subject or "": e for e in audit_entries(node, "feed.originate")}


def test_cot_ingest_is_decided_and_audited_like_the_http_ingest(tmp_path: Path) -> None:
    spec = create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR",))["KOR"]
    running = {"KOR": start(spec)}
    kor = running["KOR"]
    try:
        served = kor.server.feed
        assert served is not None
        analyst = authenticate(kor.node, spec.tokens["analyst"])  # cleared to KOR:II (SECRET), not KOR:I
        listener = CotListener(served, analyst)
        port = on_loop(kor, listener.start())
        # The same two streams each way in: one the analyst may originate, one classified above their clearance.
        assert post(kor, "analyst", updates("KOR-HTTP-OK", 3)).status_code == 200
        refused = post(kor, "analyst", updates("KOR-HTTP-TOP", 3), {**LABEL, "classification": "KOR:I"})
        assert refused.status_code == 403 and "R7.2" in refused.json()["error"]["rules"]
        assert post(kor, "releaser", updates("KOR-HTTP-RELEASER", 1)).status_code == 200
        with socket.create_connection(("127.0.0.1", port)) as tak:
            tak.sendall(cot_events("KOR-COT-OK", "II", 3) + cot_events("KOR-COT-TOP", "I", 3)
                        + cot_events("KOR-HTTP-RELEASER", "II", 1))  # the releaser's stream: not the analyst's (G2)
            wait_for(lambda: listener.accepted + listener.refused == 7, "every CoT event decided")
        assert (listener.accepted, listener.refused) == (3, 4)

        audited = originations(kor)
        for way, actor_via in (("HTTP", "api"), ("COT", "cot")):
            allowed, denied = audited[f"KOR-{way}-OK"], audited[f"KOR-{way}-TOP"]
            assert (allowed.actor, allowed.via, allowed.decision) == (analyst.id, actor_via, "allow")
            assert (denied.actor, denied.via, denied.decision) == (analyst.id, actor_via, "deny")
        for outcome in ("OK", "TOP"):  # the same decision, whichever way the stream came in
            http, cot = audited[f"KOR-HTTP-{outcome}"], audited[f"KOR-COT-{outcome}"]
            assert (cot.decision, cot.rules, cot.reasons) == (http.decision, http.rules, http.reasons)
        # One decision per stream, not per message; none for the event refused as another official's stream.
        assert len([e for e in audit_entries(kor, "feed.originate") if e.subject == "KOR-COT-OK"]) == 1
        assert [e.actor for e in audit_entries(kor, "feed.originate") if e.subject == "KOR-HTTP-RELEASER"] == [
            authenticate(kor.node, spec.tokens["releaser"]).id]

        listed = kor.client("analyst").get("/v1/feed/streams").json()
        newest = {s["stream"]: s["newest_seq"] for s in listed}
        assert newest["KOR-COT-OK"] == 3 and newest["KOR-HTTP-RELEASER"] == 1  # the releaser's stream only its own
        assert "KOR-COT-TOP" not in newest and "KOR-HTTP-TOP" not in newest  # refused streams go nowhere
        on_loop(kor, listener.close())
    finally:
        stop_all(running)
