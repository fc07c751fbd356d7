"""Crash safety of the federation: real `gsomia serve` processes on loopback, one of them SIGKILLed while
deliveries are in flight, then restarted. The promise under test is the README's "exactly-once in effect":
nothing lost, nothing duplicated, each receipt recorded once, both audit trails verify.

1. The receiver (JPN) is killed after the first receipts reach KOR, while KOR is still releasing and
   delivering; KOR keeps releasing into the outbox while JPN is down; JPN restarts (and is killed once
   more while the backlog drains, if it is still draining); KOR's sender delivers the rest.
2. The sender (KOR) is killed with its outbox partly delivered; it restarts and its pending messages
   resume: each retry is signed afresh with the same message id, and JPN answers a message it already
   processed with its stored receipt rather than storing the item twice or refusing it as a replay.

Everything is bounded (each wait ≤ 60 s) and every process is killed in the fixture's teardown.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest

from gsomia.demo.client import official_client
from gsomia.demo.loopback import LoopbackNode, create_federation, set_clock

PASSPHRASE = "crash test passphrase"
ITEMS = 30
WAIT = 60.0  # the bound on every wait
OUTAGE = timedelta(hours=1)  # far beyond the 5-minute replay window

T = TypeVar("T")

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], T], what: str, timeout: float = WAIT, every: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Cluster:
    """`gsomia serve` processes for loopback nodes: started, SIGKILLed and restarted by the test."""

    def __init__(self, nodes: dict[str, LoopbackNode], logs: Path) -> None:
        self.nodes, self.logs = nodes, logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.log_files: list[IO[bytes]] = []
        self.env = {**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE}
        self.starts: Counter[str] = Counter()

    def start(self, *parties: str) -> None:
        for party in parties:
            assert party not in self.processes, f"{party} is already running"
            node = self.nodes[party]
            self.starts[party] += 1
            log = (self.logs / f"{party.lower()}-{self.starts[party]}.log").open("wb")
            self.log_files.append(log)
            self.processes[party] = subprocess.Popen(
                [sys.executable, "-m", "gsomia.cli", "serve", "--data", str(node.data)],
                env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        for party in parties:
            wait_for(partial(self._up, party), f"{party} to serve (see {self.logs})", timeout=30, every=0.1)

    def _up(self, party: str) -> bool:
        process = self.processes[party]
        if process.poll() is not None:
            raise AssertionError(f"{party} exited with {process.returncode}; see its log in {self.logs}")
        node = self.nodes[party]
        try:
            with official_client(node.api_url, node.root_certificate, "") as client:
                return client.get("/v1/health").status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, party: str) -> None:
        """SIGKILL: no shutdown handler runs, whatever the node was doing is cut off where it stood."""
        process = self.processes.pop(party)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, party: str) -> None:
        """SIGTERM: the node shuts down in an orderly way (to restart it with its clock moved on)."""
        process = self.processes.pop(party)
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError(f"{party} did not stop on SIGTERM") from None

    def close(self) -> None:
        for party in list(self.processes):
            process = self.processes.pop(party)
            process.kill()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignored
                pass
        for log in self.log_files:
            log.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[dict[str, LoopbackNode], Cluster]]:
    nodes = create_federation(tmp_path / "nodes", passphrase=PASSPHRASE.encode(), parties=("KOR", "JPN"))
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(nodes, logs)
    try:
        cluster.start("KOR", "JPN")
        yield nodes, cluster
    finally:
        cluster.close()


class Official:
    """An official's HTTPS client that survives its node's restart (a fresh connection after an error)."""

    def __init__(self, node: LoopbackNode, who: str) -> None:
        self.node, self.who = node, who
        self._client: httpx.Client | None = None

    def __enter__(self) -> Official:
        return self

    def __exit__(self, *_: object) -> None:
        self.reset()

    def reset(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = official_client(self.node.api_url, self.node.root_certificate, self.node.tokens[self.who])
        return self._client

    def get(self, path: str, **params: Any) -> Any:
        try:
            response = self.client.get(path, params=params)
        except httpx.HTTPError:
            self.reset()
            raise
        assert response.status_code == 200, f"GET {path}: HTTP {response.status_code} {response.text}"
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            return self.client.post(path, json=body)
        except httpx.HTTPError:
            self.reset()
            raise


def originate(releaser: Official, count: int) -> list[str]:
    refs = []
    for n in range(count):
        created = releaser.post("/v1/items", {
            "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"], "topics": ["dprk-missile"],
            "purpose": "missile warning", "content_text": f"track {n}: launch detected, heading east"})
        assert created.status_code == 201, created.text
        refs.append(str(created.json()["id"]))
    return refs


def release(releaser: Official, ref: str) -> str:
    released = releaser.post(f"/v1/items/{ref}/release", {"to": "JPN"})
    assert released.status_code == 202, released.text
    return str(released.json()["message_id"])


def outbox_states(officer: Official) -> Counter[str]:
    return Counter(str(m["state"]) for m in officer.get("/v1/outbox") if m["kind"] == "item")


def outbox_on_disk(node: LoopbackNode) -> Counter[str]:
    """The outbox as a (dead) node left it: its SQLite database, opened read-only."""
    uri = f"file:{node.data / 'gsomia.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        rows = db.execute("SELECT state, count(*) FROM outbox WHERE kind = 'item' GROUP BY state").fetchall()
    return Counter({str(state): int(count) for state, count in rows})


def inbox_on_disk(node: LoopbackNode) -> Counter[str]:
    """The item messages a node processed, by message id: its SQLite database, opened read-only."""
    uri = f"file:{node.data / 'gsomia.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        rows = db.execute("SELECT message_id FROM inbox WHERE kind = 'item'").fetchall()
    return Counter(str(row[0]) for row in rows)


def drained(officer: Official) -> bool:
    try:
        return not officer.get("/v1/outbox", state="pending")
    except httpx.HTTPError:
        return False


def audit_entries(officer: Official) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    since: int | None = 0
    while since is not None:
        page = officer.get("/v1/audit/entries", since=since, limit=1000)
        entries.extend(page["entries"])
        since = page["next"]
    return entries


def assert_exactly_once(nodes: dict[str, LoopbackNode], released: dict[str, str]) -> None:
    """Every release delivered once at KOR, one copy per item at JPN, both audit trails verify."""
    kor, jpn = nodes["KOR"], nodes["JPN"]
    with ExitStack() as stack:
        kor_officer = stack.enter_context(Official(kor, "officer"))
        jpn_officer = stack.enter_context(Official(jpn, "officer"))

        # KOR: one outbox row per release, each delivered (not refused, not pending), nothing else sent.
        rows = [m for m in kor_officer.get("/v1/outbox") if m["kind"] == "item"]
        assert Counter(m["message_id"] for m in rows) == Counter(released.values())
        assert {m["message_id"]: m["state"] for m in rows} == {mid: "delivered" for mid in released.values()}
        # ...its receipt recorded against the item once (R6.f), and audited once.
        for ref in released:
            receipts = [e for e in kor_officer.get(f"/v1/items/{ref}/history")
                        if e["kind"] == "receipt" and e.get("counterparty") == "JPN"]
            assert len(receipts) == 1, f"{ref}: {len(receipts)} receipts recorded"
        kor_audit = audit_entries(kor_officer)
        accepted = Counter(e["subject"] for e in kor_audit if e["action"] == "peer.item.accepted")
        assert accepted == Counter(released.keys()), "each delivery audited once at KOR"

        # JPN: exactly one item per released origin_ref: none missing, none twice.
        held = jpn_officer.get("/v1/items", limit=1000)
        copies = Counter(i["origin_ref"] for i in held if i.get("originator") == "KOR")
        assert copies == Counter(released.keys()), f"missing {set(released) - set(copies)}, " \
                                            f"twice {[r for r, n in copies.items() if n > 1]}"
        jpn_audit = audit_entries(jpn_officer)
        receives = Counter(e["subject"] for e in jpn_audit if e["action"] == "item.receive")
        assert receives == Counter(released.keys()), "each receipt decided (and audited) once at JPN"
        # Peer refusals either way: JPN's of a message, KOR's of one of JPN's (its agreement versions, as it starts).
        refusals = [e for e in jpn_audit if e["action"].startswith("peer.") and not e["action"].endswith(".accepted")]
        assert not refusals, f"JPN refused messages: {refusals}"

        # JPN's inbox: each release's message id processed once (retries carried the same id).
        assert inbox_on_disk(jpn) == Counter(released.values())

        for officer in (kor_officer, jpn_officer):
            verified = officer.get("/v1/audit/verify")
            assert verified["ok"] is True, f"{officer.node.party}'s audit trail does not verify: {verified}"


def test_receiver_killed_mid_delivery_loses_and_duplicates_nothing(
        pair: tuple[dict[str, LoopbackNode], Cluster]) -> None:
    nodes, cluster = pair
    kor = nodes["KOR"]
    released: dict[str, str] = {}
    with Official(kor, "releaser") as releaser, Official(kor, "officer") as officer:
        refs = originate(releaser, ITEMS)
        killed = False
        for n, ref in enumerate(refs):  # in quick succession: JPN dies after the first receipts reach KOR
            if not killed and n == ITEMS - 5:  # the sender lags (a loaded machine): let three receipts in
                wait_for(lambda: outbox_states(officer)["delivered"] >= 3, "the first receipts at KOR")
            released[ref] = release(releaser, ref)
            if not killed and outbox_states(officer)["delivered"] >= 3:
                cluster.kill("JPN")
                killed = True
        # KOR kept releasing into its outbox while JPN was down: part delivered, the rest pending.
        after_releases = outbox_states(officer)
        assert after_releases["delivered"] >= 3 and after_releases["pending"] >= 4, after_releases

        # JPN restarts and KOR's sender (backing off meanwhile) delivers the backlog. If it is still
        # draining after the first retried delivery, JPN is killed once more, amid the retries.
        cluster.start("JPN")
        wait_for(lambda: outbox_states(officer)["delivered"] > after_releases["delivered"],
                 "the first retried delivery")
        if outbox_states(officer)["pending"]:
            cluster.kill("JPN")
            cluster.start("JPN")
        wait_for(lambda: drained(officer), "KOR's outbox to drain")
    assert_exactly_once(nodes, released)


def test_sender_killed_mid_delivery_resumes_with_the_same_message_ids(
        pair: tuple[dict[str, LoopbackNode], Cluster]) -> None:
    nodes, cluster = pair
    kor, jpn = nodes["KOR"], nodes["JPN"]
    released: dict[str, str] = {}
    with Official(kor, "releaser") as releaser, Official(kor, "officer") as officer, \
            Official(jpn, "officer") as jpn_officer:
        refs = originate(releaser, ITEMS)
        # A backlog to be partly delivered: JPN is down while KOR releases everything, so the outbox fills
        # and KOR's sender backs off; once JPN is back, deliveries resume as each message comes due.
        backlog, last = refs[:ITEMS // 2], refs[ITEMS // 2:]
        cluster.kill("JPN")
        for ref in backlog:
            released[ref] = release(releaser, ref)
        assert outbox_states(officer)["pending"] == len(backlog)
        cluster.start("JPN")
        wait_for(lambda: outbox_states(officer)["delivered"] >= 3, "the first deliveries after JPN's return")
        # The rest in one request, and KOR killed the moment it is answered: those are still on their way.
        answer = releaser.post("/v1/releases", {"releases": [{"item_id": ref, "to": "JPN"} for ref in last]})
        assert answer.status_code == 200, answer.text
        released.update(zip(last, (o["message_id"] for o in answer.json()["outcomes"]), strict=True))
        cluster.kill("KOR")
        releaser.reset()
        officer.reset()
        at_kill = outbox_on_disk(kor)
        assert at_kill["delivered"] >= 3 and at_kill["pending"] > 0, at_kill
        # JPN may hold items whose receipts KOR never recorded: their retries must get the stored receipt.
        held = [i for i in jpn_officer.get("/v1/items", limit=1000) if i.get("originator") == "KOR"]
        assert len(held) >= at_kill["delivered"]
        jpn_officer.reset()

        # KOR stays down for an hour (both clocks jump): every retry is signed afresh with the same message
        # id, so none is refused as a replay, and a message JPN already processed gets its stored receipt.
        cluster.stop("JPN")
        later, now = datetime.now(timezone.utc) + OUTAGE, datetime.now(timezone.utc)
        for node in (kor, jpn):
            set_clock(node, later, now)
        cluster.start("KOR", "JPN")
        wait_for(lambda: drained(officer), "KOR's outbox to drain after its restart")
    assert_exactly_once(nodes, released)
