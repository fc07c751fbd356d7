"""The README's main job: KOR, JPN and USA nodes on loopback, and the scenario, each step with its decision.

1. Nodes start with their clocks at 1 Nov 2016: KOR's release to JPN is refused (the GSOMIA is not in
   force, and TISA allows no direct path); KOR's security officer gives TISA consent and the same
   report goes to JPN through the US hub.
2. Nodes restart at today's date: KOR releases directly under the GSOMIA; JPN's disclosure to the US
   is refused until KOR consents in writing; JPN reports a compromise and KOR sees it; KOR recalls
   and JPN's destruction certificate comes back; the nodes exchange audit checkpoints; every audit
   trail verifies.
3. A simulated launch streams through the missile-warning chain KOR → USA → JPN, with each hop's latency.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import uvloop

from gsomia.cli.output import out
from gsomia.demo.client import events, holding, official_client, wait_for
from gsomia.demo.loopback import LoopbackNode, create_federation, set_clock
from gsomia.demo.missile_warning import stream_launch

console = out()  # the CLI's: never wrapped when piped or written to a file (cli/output.py)
NOVEMBER_2016 = datetime(2016, 11, 1, 3, 0, tzinfo=timezone.utc)
PASSPHRASE = "demo passphrase: never use it for real keys"


class Demo:
    def __init__(self, nodes: dict[str, LoopbackNode], stack: ExitStack) -> None:
        self.nodes, self.stack = nodes, stack
        self.clients: dict[tuple[str, str], httpx.Client] = {}
        self.seen: dict[str, int] = {}  # per node, the audit entries read so far (allowed_by)
        self.failures = 0

    def client(self, party: str, who: str) -> httpx.Client:
        key = (party, who)
        if key not in self.clients:
            node = self.nodes[party]
            self.clients[key] = self.stack.enter_context(
                official_client(node.api_url, node.root_certificate, node.tokens[who]))
        return self.clients[key]

    def close_clients(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()

    def step(self, title: str, response: httpx.Response, expect: int) -> dict[str, Any]:
        body: Any = response.json() if response.content else {}
        ok = response.status_code == expect
        self.failures += 0 if ok else 1
        if response.status_code < 300:
            rules, reasons = self.allowed_by(response)  # none for what is no decision (a checkpoint sent)
            console.print(f"[green]ALLOWED[/] {title}" + (f"  [dim]{', '.join(rules)}[/]" if rules else ""))
        else:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            console.print(f"[red]REFUSED[/] {title}  [dim]{', '.join(error.get('rules', []))}[/]")
            reasons = error.get("reasons", []) or [error.get("message", "")]
        for reason in reasons:
            console.print(f"        {reason}", markup=False)
        if not ok:
            console.print(f"[bold red]  unexpected: HTTP {response.status_code}, expected {expect}: {response.text}")
        return body if isinstance(body, dict) else {"list": body}

    def allowed_by(self, response: httpx.Response) -> tuple[list[str], list[str]]:
        """The rules and reasons of what the node just allowed, as its audit trail recorded them: the newest
        decision or note an official made through the API since the last step (read by the node's security
        officer, as an inspector would)."""
        party = next(p for p, n in self.nodes.items() if n.api_port == response.request.url.port)
        officer, found = self.client(party, "officer"), None
        while True:
            page = officer.get("/v1/audit/entries", params={"since": self.seen.get(party, 0), "limit": 1000}).json()
            for entry in page["entries"]:
                self.seen[party] = entry["seq"]
                if entry["via"] == "api" and entry["decision"] != "deny" and entry["rules"]:
                    found = entry
            if page["next"] is None:
                break
        if found is None:
            return [], []
        return found["rules"], [r for r in found["reasons"] if not r.startswith("agreement: ")]

    def note(self, text: str) -> None:
        console.print(f"        [cyan]{text}[/]")


@contextmanager
def running(nodes: dict[str, LoopbackNode], env: dict[str, str]) -> Iterator[None]:
    processes = [subprocess.Popen([sys.executable, "-m", "gsomia.cli", "serve", "--data", str(n.data)], env=env)
                 for n in nodes.values()]
    try:
        for node in nodes.values():
            wait_for(partial(_up, node), f"{node.party} node to start", timeout=30)
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _drained(officer: httpx.Client) -> bool:
    return not officer.get("/v1/outbox", params={"state": "pending"}).json()


def _up(node: LoopbackNode) -> bool:
    try:
        with official_client(node.api_url, node.root_certificate, "") as client:
            return client.get("/v1/health").status_code == 200
    except httpx.HTTPError:
        return False


def run_demo(*, once: bool, base: Path | None = None) -> bool:
    # The nodes log warnings and errors only (JSON on stderr): the scenario prints what matters.
    env = {"GSOMIA_LOG_LEVEL": "warning", **os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE}
    with ExitStack() as stack:
        folder = base or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gsomia-demo-")))
        console.print(f"[bold]Creating KOR, JPN and USA nodes (PKI, keys, SQLite) in {folder}[/]")
        nodes = create_federation(folder, passphrase=PASSPHRASE.encode(), clock_start=NOVEMBER_2016)
        demo = Demo(nodes, stack)
        try:
            console.print("\n[bold]1 November 2016: before the Japan–Korea GSOMIA[/]")
            with running(nodes, env):
                before_the_gsomia(demo)
                demo.close_clients()
            for node in nodes.values():
                set_clock(node, None)
            console.print(f"\n[bold]Today ({datetime.now(timezone.utc):%d %B %Y}): nodes restarted[/]")
            with running(nodes, env):
                under_the_gsomia(demo)
                missile_warning(demo)
                serve_on(demo, once)
        except (TimeoutError, httpx.HTTPError) as stuck:
            console.print(f"[bold red]The scenario stopped: {stuck}[/]")
            demo.failures += 1
    console.print("[bold green]Demo complete.[/]" if demo.failures == 0 else
                  f"[bold red]{demo.failures} step(s) did not go as expected.[/]")
    return demo.failures == 0


def missile_warning(demo: Demo) -> None:
    """A simulated launch, tens of updates a second, posted to KOR's node and carried by the running nodes'
    feeds KOR → USA hub → JPN (TLS WebSockets, signed batches, the policy at every hop)."""
    console.print("\n[bold]Missile warning: a simulated launch into the Sea of Japan, KOR → USA hub → JPN[/]")
    # uvloop, as `gsomia serve` and bench_feed run theirs: this process holds the sensor and three subscribers.
    if not uvloop.run(stream_launch(demo.nodes, speedup=100.0, say=console.print)):
        console.print("[bold red]  the track did not reach JPN whole and in order[/]")
        demo.failures += 1


def serve_on(demo: Demo, once: bool) -> None:
    if not once and demo.failures == 0:
        for node in demo.nodes.values():
            console.print(f"{node.party}: officials' API {node.api_url}  peers {node.peer_url}  feed {node.feed_url}"
                          f"  data {node.data}")
            console.print(f"      chief security officer's token: {node.tokens['chief']}")
            console.print(f"      web console {node.api_url}/console/ (the node's certificate is from its own root,"
                          f" {node.root_certificate}): sign in with the token above")
        console.print("Serving until Ctrl-C.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    demo.close_clients()


def before_the_gsomia(demo: Demo) -> None:
    kor = demo.client("KOR", "releaser")
    title = "KOR originates a missile report (군사II급비밀, REL TO USA, JPN, KOR)"
    created = demo.step(title, kor.post("/v1/items", json={
        "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"], "topics": ["dprk-missile"],
        "purpose": "missile warning", "content_text": "Launch 05:12Z near 39.0N 125.7E; ballistic, heading east"}), 201)
    item = created["id"]
    demo.step("KOR releases it directly to JPN", kor.post(f"/v1/items/{item}/release", json={"to": "JPN"}), 403)
    demo.step("KOR releases it to JPN via USA, without written consent",
              kor.post(f"/v1/items/{item}/release", json={"to": "JPN", "via": "USA"}), 403)
    demo.step("KOR's security officer gives TISA consent: USA may pass missile reports to JPN",
              demo.client("KOR", "officer").post("/v1/consents", json={
                  "to": "JPN", "topics": ["dprk-missile"], "purpose": "TISA relay of missile warnings"}), 201)
    demo.step("KOR releases it to JPN via USA under TISA",
              kor.post(f"/v1/items/{item}/release", json={"to": "JPN", "via": "USA"}), 202)
    usa_copy = wait_for(lambda: holding(demo.client("USA", "officer"), item), "the hub's copy")
    demo.note(f"USA holds it as {usa_copy[0]['national_marking']} (T6) and relays it")
    jpn_copy = wait_for(lambda: holding(demo.client("JPN", "officer"), item), "JPN's copy")
    demo.note(f"JPN holds it as {jpn_copy[0]['national_marking']} and KOR:II, provided by USA (R4.4)")
    wait_for(lambda: [e for e in events(demo.client("KOR", "officer"), item)
                      if e["kind"] == "receipt" and e.get("counterparty") == "JPN"], "JPN's receipt at KOR")
    demo.note("KOR has JPN's signed receipt, passed back by the hub")


def under_the_gsomia(demo: Demo) -> None:
    kor, jpn = demo.client("KOR", "releaser"), demo.client("JPN", "analyst")
    created = demo.step("KOR originates a new missile report", kor.post("/v1/items", json={
        "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"], "topics": ["dprk-missile"],
        "purpose": "missile warning", "content_text": "Apogee 950 km; predicted impact 40.9N 138.2E (Sea of Japan)"}),
        201)
    item = created["id"]
    demo.step("KOR releases it directly to JPN under the GSOMIA",
              kor.post(f"/v1/items/{item}/release", json={"to": "JPN"}), 202)
    held = wait_for(lambda: holding(demo.client("JPN", "officer"), item), "JPN's copy")[0]
    demo.note(f"JPN holds {held['id']} marked {held['national_marking']} (R4.4); its receipt goes back to KOR")
    demo.step("JPN's analyst reads it", jpn.get(f"/v1/items/{held['id']}/content"), 200)
    demo.step("JPN discloses it to USA without KOR's consent",
              jpn.post(f"/v1/items/{held['id']}/disclose", json={"to": "USA"}), 403)
    asked = demo.step("JPN asks KOR for written consent to disclose it to USA",
                      jpn.post(f"/v1/items/{held['id']}/consent-requests",
                               json={"to": "USA", "purpose": "combined air defence"}), 202)
    kor_officer = demo.client("KOR", "officer")
    wait_for(lambda: [c for c in kor_officer.get("/v1/consents").json() if c["id"] == asked["id"]], "the request")
    demo.step("KOR's security officer grants it (signed, for this item and USA only)",
              kor_officer.post(f"/v1/consents/{asked['id']}/grant", json={"reason": "combined air defence"}), 200)
    wait_for(lambda: [c for c in demo.client("JPN", "officer").get("/v1/consents").json()
                      if c["id"] == asked["id"] and c["state"] == "granted"], "the consent at JPN")
    demo.step("JPN discloses it to USA with KOR's consent",
              jpn.post(f"/v1/items/{held['id']}/disclose", json={"to": "USA"}), 202)
    wait_for(lambda: holding(demo.client("USA", "officer"), item), "USA's copy")
    demo.note("USA holds it; KOR learns who holds it")
    report = demo.step("JPN reports a possible compromise of its copy",
                       demo.client("JPN", "officer").post(f"/v1/items/{held['id']}/compromise",
                                                          json={"description": "courier bag opened in transit"}), 202)
    wait_for(lambda: [r for r in kor_officer.get("/v1/reports").json() if r["id"] == report["id"]], "the report")
    demo.note("KOR has the report, immediately (R17.1); the investigation's result is due within 30 days")
    demo.step("KOR recalls the item from every holder", kor_officer.post(f"/v1/items/{item}/recall",
                                                                          json={"reason": "possibly compromised"}), 202)
    wait_for(lambda: [e for e in events(demo.client("JPN", "officer"), held["id"]) if e["kind"] == "recall-requested"],
             "the recall at JPN")
    demo.step("JPN's security officer destroys its copy", demo.client("JPN", "officer").post(
        f"/v1/items/{held['id']}/destroy", json={"method": "cryptographic erasure", "reason": "recalled by KOR"}), 200)
    wait_for(lambda: [e for e in events(kor_officer, item) if e["kind"] == "destroyed-by"], "the certificate at KOR")
    demo.note("KOR has JPN's signed destruction certificate (Art. 13)")
    for party in demo.nodes:
        demo.step(f"{party} sends its signed audit checkpoint to its partners",
                  demo.client(party, "officer").post("/v1/audit/checkpoints/exchange"), 202)
    for party in demo.nodes:
        officer = demo.client(party, "officer")
        wait_for(partial(_drained, officer), "delivery")
        verified = officer.get("/v1/audit/verify").json()
        demo.note(f"{party}'s audit trail: {verified.get('entries', verified.get('count', '?'))} entries, "
                  f"{'verifies' if verified.get('ok') else 'DOES NOT VERIFY'}")
        demo.failures += 0 if verified.get("ok") else 1
