"""The console in a real browser (Debian's chromium, driven by Playwright) against real nodes: KOR, JPN and
USA on loopback, each serving TLS, federating over mutual TLS, KOR's feed linked to the US hub.

Sign-in and sign-out; a form without its CSRF token refused (and audited); an item originated by file upload
and released after the policy's answer is shown; a refused release showing its rules; a consent JPN asked
for, granted; a compromise reported; a destruction certificate downloaded and verified; the map receiving a
track. Every page the tests open is photographed (the folder is named in the run's summary) and no page may
trip the Content Security Policy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from tests.console.browser import Screens, chromium, new_context, spki_pin
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all, wait_for

from gsomia.crypto import PublicKeys, export_public, verify_record
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.demo.missile_warning import LABEL
from gsomia.domain.labels import Label
from gsomia.domain.schemes import Classification
from gsomia.feed.trajectory import TrackSource, ballistic_track, scenario_for_seed
from gsomia.services.feed_posts import track_dict

pytestmark = pytest.mark.slow

TOPIC = "dprk-missile"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningNode]]:
    specs: dict[str, LoopbackNode] = create_federation(tmp_path_factory.mktemp("console-federation"),
                                                       passphrase=PASSPHRASE)
    running = {party: start(spec) for party, spec in specs.items()}
    yield running
    stop_all(running)


@pytest.fixture(scope="module")
def kor(nodes: dict[str, RunningNode]) -> RunningNode:
    return nodes["KOR"]


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Screens]:
    taken = Screens.at(tmp_path_factory.getbasetemp() / "console-screenshots")
    yield taken
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"console screenshots ({len(taken.taken)}): {taken.folder}")


@pytest.fixture(scope="module")
def browser(kor: RunningNode) -> Iterator[Browser]:
    pin = spki_pin((kor.spec.data / "keys" / "tls.crt.pem").read_bytes())
    with chromium([pin]) as launched:
        yield launched


@pytest.fixture
def context(browser: Browser, kor: RunningNode) -> Iterator[BrowserContext]:
    made = new_context(browser, kor.spec.api_url)
    yield made
    made.close()


def signed_in(context: BrowserContext, screens: Screens, token: str) -> Page:
    page = context.new_page()
    screens.watch(page)
    page.goto("/console/sign-in")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Dashboard")
    return page


def act_on_item(page: Page, item_id: str, act: str, fields: dict[str, str], *, check: str = "") -> None:
    """Fill and send one of the item page's forms, as an official would."""
    page.goto(f"/console/items/{item_id}")
    form = page.locator(f"form[action='/console/items/{item_id}/{act}']")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    if check:
        form.locator(f"input[name={check}]").check()
    form.locator("button").click()


def new_item(client: httpx.Client, *, releasable_to: list[str], text: str, purpose: str = "missile warning",
             classification: str = "KOR:II") -> str:
    answer = client.post("/v1/items", json={"classification": classification, "releasable_to": releasable_to,
                                            "topics": [TOPIC], "purpose": purpose, "content_text": text})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_sign_in_and_sign_out(context: BrowserContext, kor: RunningNode, screens: Screens) -> None:
    page = context.new_page()
    screens.watch(page)
    page.goto("/console/")
    expect(page.locator("h1")).to_have_text("Sign in")
    screens.shoot(page, "sign-in")
    page.fill("#token", "gsomia_not-a-token")
    page.click("button[type=submit]")
    expect(page.locator(".notice")).to_contain_text("authentication failed")

    page.fill("#token", kor.spec.tokens["officer"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Dashboard")
    cookie = next(c for c in context.cookies() if c["name"] == "__Host-gsomia-console")
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
    response = page.goto("/console/")
    assert response is not None
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    screens.shoot(page, "dashboard")

    page.click("text=Sign out")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.goto("/console/items")
    expect(page.locator("h1")).to_have_text("Sign in")  # the session is gone server-side, not just the cookie
    audit = kor.client("chief").get("/v1/audit/entries", params={"limit": 1000}).json()["entries"]
    actions = [e["action"] for e in audit if e["via"] == "console"]
    assert "console.sign-in" in actions and "console.sign-out" in actions and "authenticate" in actions


def test_a_form_without_its_csrf_token_is_refused(context: BrowserContext, kor: RunningNode,
                                                  screens: Screens) -> None:
    page = signed_in(context, screens, kor.spec.tokens["officer"])
    page.goto("/console/officials")
    screens.shoot(page, "officials")
    form = page.locator("form[action='/console/officials']")
    form.locator("input[name=csrf]").evaluate("input => input.remove()")
    form.locator("input[name=name]").fill("Forged Appointee")
    form.locator("input[name=reason]").fill("a forged form")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/console/officials")) as sent:
        form.locator("button[type=submit]").click()
    assert sent.value.status == 403
    expect(page.locator("h1")).to_have_text("Form refused")
    screens.shoot(page, "csrf-refused")
    register = kor.client("chief").get("/v1/officials").json()
    assert "Forged Appointee" not in {o["name"] for o in register}
    audit = kor.client("chief").get("/v1/audit/entries", params={"limit": 1000}).json()["entries"]
    assert any(e["action"].startswith("console.form POST") and "CSRF" in " ".join(e["reasons"]) for e in audit)


def test_an_item_originated_then_released_after_the_policy_answers(context: BrowserContext, nodes: Any,
                                                                   kor: RunningNode, screens: Screens) -> None:
    page = signed_in(context, screens, kor.spec.tokens["releaser"])
    page.goto("/console/items/new")
    page.set_input_files("input[name=content]", {"name": "launch-assessment.txt", "mimeType": "text/plain",
                                                 "buffer": b"Assessment: two SRBMs expected from Sinpo within 48 h."})
    page.select_option("select[name=classification]", "KOR:II")
    for party in ("JPN", "USA"):
        page.check(f"input[name=releasable_to][value={party}]")
    page.fill("input[name=topics]", TOPIC)
    page.fill("input[name=purpose]", "missile warning")
    screens.shoot(page, "originate")
    page.click("form button[type=submit].primary")
    expect(page.locator(".flash")).to_contain_text("Originated")
    item_id = page.locator("h1 code").inner_text()
    expect(page.locator(".item-banner")).to_have_text("SECRET//REL TO USA, JPN, KOR")
    screens.shoot(page, "item")

    release = page.locator("form[data-dialog][action$='/release/preview']")
    release.locator("select[name=to]").select_option("JPN")
    release.locator("button[type=submit]").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".verdict")).to_have_text("Allowed")
    expect(dialog).to_contain_text("jpn-kor-gsomia-2016")
    shown_rules = dialog.locator(".rule").all_inner_texts()
    screens.shoot(page, "release-allowed-dialog", full_page=False)
    dialog.locator("button[data-confirm-act]").click()
    expect(page.locator(".flash")).to_contain_text(f"Released {item_id} to JPN")
    audit = kor.client("chief").get("/v1/audit/entries", params={"limit": 1000}).json()["entries"]
    released = [e for e in audit if e["action"] == "item.release" and e["subject"] == item_id]
    assert [(e["decision"], e["rules"]) for e in released] == [("allow", shown_rules)]  # what was shown is what ruled
    jpn = nodes["JPN"].client("chief")
    wait_for(lambda: any(i["origin_ref"] == item_id for i in jpn.get("/v1/items").json()), "JPN holds the item", 30)
    page.reload()
    expect(page.locator("tr.event-receipt")).to_have_count(1, timeout=20_000)
    screens.shoot(page, "item-released")


def test_a_refused_release_shows_its_rules(context: BrowserContext, kor: RunningNode, screens: Screens) -> None:
    item_id = new_item(kor.client("releaser"), releasable_to=["KOR", "USA"], text="US eyes only")
    page = signed_in(context, screens, kor.spec.tokens["releaser"])
    page.goto(f"/console/items/{item_id}")
    release = page.locator("form[data-dialog][action$='/release/preview']")
    release.locator("select[name=to]").select_option("JPN")
    release.locator("button[type=submit]").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog.locator(".verdict")).to_have_text("Refused")
    expect(dialog.locator(".rule").first).to_have_text("G1")
    expect(dialog.locator(".reasons")).to_contain_text("JPN")
    assert dialog.locator("button[data-confirm-act]").count() == 0  # nothing to confirm
    screens.shoot(page, "release-refused-dialog", full_page=False)


@pytest.fixture(scope="module")
def held_by_jpn(nodes: dict[str, RunningNode], kor: RunningNode) -> tuple[str, str]:
    """A KOR item released to JPN (through the API): its KOR id and JPN's id of its copy."""
    item_id = new_item(kor.client("releaser"), releasable_to=["KOR", "JPN", "USA"], text="Track data, SRBM 3")
    assert kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN"}).status_code == 202
    jpn = nodes["JPN"].client("chief")
    held = wait_for(lambda: [i for i in jpn.get("/v1/items").json() if i["origin_ref"] == item_id], "JPN holds it", 30)
    return item_id, str(held[0]["id"])


def test_a_consent_is_granted(context: BrowserContext, nodes: dict[str, RunningNode], kor: RunningNode,
                              held_by_jpn: tuple[str, str], screens: Screens) -> None:
    _, jpn_id = held_by_jpn
    jpn = nodes["JPN"].client("releaser")
    asked = jpn.post(f"/v1/items/{jpn_id}/consent-requests", json={"to": "USA", "purpose": "joint assessment"})
    assert asked.status_code == 202, asked.text
    consent_id = asked.json()["id"]
    wait_for(lambda: any(c["id"] == consent_id for c in kor.client("chief").get("/v1/consents").json()),
             "the request reaches KOR", 30)
    page = signed_in(context, screens, kor.spec.tokens["officer"])
    expect(page.locator("section.card", has_text="Consent requests")).to_contain_text("joint assessment")
    page.goto("/console/consents")
    request_box = page.locator(f"#{consent_id}")
    expect(request_box).to_contain_text("USA")
    screens.shoot(page, "consents")
    request_box.locator("input[name=reason]").first.fill("for the trilateral assessment only")
    request_box.locator("button", has_text="Grant").click()
    expect(page.locator(".flash")).to_contain_text(f"Consent {consent_id} granted")
    wait_for(lambda: any(c["id"] == consent_id and c["state"] == "granted" for c in jpn.get("/v1/consents").json()),
             "JPN holds the signed consent", 30)
    screens.shoot(page, "consent-granted")


def test_a_compromise_is_reported(context: BrowserContext, kor: RunningNode, held_by_jpn: tuple[str, str],
                                  screens: Screens) -> None:
    item_id, _ = held_by_jpn
    page = signed_in(context, screens, kor.spec.tokens["officer"])
    act_on_item(page, item_id, "compromise",
                {"description": "A printout was left in an unsecured meeting room for two hours."})
    expect(page.locator(".flash")).to_contain_text("Compromise report")
    expect(page.locator("section.report").first).to_contain_text("unsecured meeting room")
    screens.shoot(page, "compromise-reported")
    page.goto("/console/")
    expect(page.locator("section.card", has_text="Open compromise reports")).to_contain_text(item_id)
    screens.shoot(page, "dashboard-after")


def test_a_recall_awaits_the_holders_certificate(context: BrowserContext, nodes: dict[str, RunningNode],
                                                 kor: RunningNode, held_by_jpn: tuple[str, str],
                                                 screens: Screens) -> None:
    item_id, jpn_id = held_by_jpn
    page = signed_in(context, screens, kor.spec.tokens["officer"])
    act_on_item(page, item_id, "recall", {"reason": "superseded by a corrected assessment"})
    expect(page.locator(".flash")).to_contain_text("sent to JPN")
    page.goto("/console/")
    recalls = page.locator("section.card", has_text="Recalls awaiting certificates")
    expect(recalls).to_contain_text(f"{item_id} recalled")
    expect(recalls).to_contain_text("awaiting JPN")
    screens.shoot(page, "dashboard-recall-awaiting")
    jpn = nodes["JPN"].client("officer")
    wait_for(lambda: any(e["kind"] == "recall-requested" for e in jpn.get(f"/v1/items/{jpn_id}/history").json()),
             "the recall reaches JPN", 30)
    destroyed = jpn.post(f"/v1/items/{jpn_id}/destroy", json={"method": "shredding", "reason": "recalled by KOR"})
    assert destroyed.status_code == 200, destroyed.text
    wait_for(lambda: any(e["kind"] == "destroyed-by" for e in kor.client("chief").get(
        f"/v1/items/{item_id}/history").json()), "JPN's certificate reaches KOR", 30)
    page.reload()
    expect(page.locator("section.card", has_text="Recalls awaiting certificates")).not_to_contain_text(item_id)
    page.goto(f"/console/items/{item_id}")
    expect(page.locator("tr.event-destroyed-by")).to_contain_text("JPN")
    screens.shoot(page, "item-recalled-and-certified")


def test_a_destruction_certificate_is_downloaded(context: BrowserContext, kor: RunningNode, screens: Screens) -> None:
    item_id = new_item(kor.client("releaser"), releasable_to=["KOR"], text="superseded assessment")
    page = signed_in(context, screens, kor.spec.tokens["officer"])
    act_on_item(page, item_id, "destroy", {"reason": "superseded; no longer needed for its purpose"}, check="confirm")
    expect(page.locator("h1")).to_contain_text("Destruction certificate")
    expect(page.locator(".verdict")).to_contain_text("verified")
    screens.shoot(page, "certificate")
    with page.expect_download() as downloading:
        page.click("text=Download the signed certificate")
    saved = Path(downloading.value.path())
    published = PublicKeys.from_dict(export_public(kor.spec.data))  # what KOR gives its partners
    record = verify_record(saved.read_bytes(), trusted=published, expected_type="destruction-certificate")
    assert record.body["item_id"] == item_id and record.signer.party == "KOR"


def _launch(stream: str) -> list[dict[str, Any]]:
    """A simulated launch as KOR's sensor posts it, every message stamped as observed now (so that the map's
    latency is the system's, not the simulation's)."""
    label = Label("KOR", "KOR", Classification("KOR", "II"), frozenset({"KOR", "USA", "JPN"}), frozenset({TOPIC}),
                  "missile warning", datetime.now(timezone.utc))
    return [track_dict(m) for m in ballistic_track(scenario_for_seed(5), TrackSource(label, stream, rate_hz=0.5),
                                                   time.time(), seed=5)]


def test_the_map_receives_a_track(context: BrowserContext, kor: RunningNode, screens: Screens) -> None:
    page = signed_in(context, screens, kor.spec.tokens["analyst"])
    expect(page.locator("header nav a")).to_have_count(4)  # no register, consents, reports or audit for a reader
    screens.shoot(page, "dashboard-analyst")
    page.goto("/console/missile")
    expect(page.locator("[data-feed-status]")).to_have_text("live")
    stream = f"KOR-CONSOLE-{int(time.time())}"
    messages = _launch(stream)
    sensor = kor.client("releaser")
    sent = 0
    for part in (messages[: len(messages) // 3], messages[len(messages) // 3:]):  # mid-flight, then the rest
        for message in part:
            offset = message["stale"] - message["time"]
            message["time"] = time.time()
            message["stale"] = message["time"] + offset
        answer = sensor.post("/v1/feed/tracks", json={"label": LABEL, "messages": part})
        assert answer.status_code == 200, answer.text
        sent += len(part)
        expect(page.locator("svg#map")).to_have_attribute("data-messages", str(sent))
        if sent < len(messages):
            expect(page.locator("#tracks .track .head")).to_have_count(1)
            screens.shoot(page, "missile-map-in-flight")
    expect(page.locator(f"[data-track-list] li[data-stream='{stream}']")).to_contain_text("EndOfTrack")
    expect(page.locator("#tracks .track .launch")).to_have_count(1)
    expect(page.locator("[data-latency]")).to_contain_text("ms to this screen")
    expect(page.locator("[data-banner]").first).to_have_text("SECRET//REL TO USA, JPN, KOR")
    screens.shoot(page, "missile-map")


def test_every_page_as_the_officer_sees_it(context: BrowserContext, kor: RunningNode, screens: Screens) -> None:
    page = signed_in(context, screens, kor.spec.tokens["officer"])
    for path, name in (("/console/agreements", "agreements"), ("/console/items", "items"),
                       ("/console/reports", "reports")):
        page.goto(path)
        screens.shoot(page, name)
    expect(page.locator("body")).not_to_contain_text("Internal error")
    page.goto("/console/officials")
    page.click("text=KOR analyst")
    screens.shoot(page, "official")
    page.click("text=may read here, and why not the rest")
    expect(page.locator("h1")).to_contain_text("What KOR analyst may read")
    expect(page.locator("body")).to_contain_text("no content was opened")
    screens.shoot(page, "official-access")
    page.go_back()
    page.locator("form[action$='/token'] input[name=reason]").fill("replacement after a lost badge")
    page.locator("form[action$='/token'] button").click()
    expect(page.locator("[data-token]")).to_contain_text("gsomia_")
    screens.shoot(page, "token-once")
    page.goto("/console/audit")
    page.click("text=Verify the chain")
    expect(page.locator("[data-verify-result] .verdict")).to_have_text("The chain verifies")
    screens.shoot(page, "audit")
    page.goto("/console/")
    page.click("text=Sign a checkpoint and send it to every partner")
    expect(page.locator(".flash")).to_contain_text("Checkpoint at")
    outbox = kor.client("chief")
    wait_for(lambda: all(m["state"] == "delivered" for m in outbox.get("/v1/outbox").json()
                         if m["kind"] == "audit-checkpoint"), "both partners' receipts for the checkpoint", 30)
    page.reload()
    checkpoints = page.locator("section.card", has_text="Audit trail")
    expect(checkpoints.locator("tr", has_text="JPN")).to_contain_text("delivered")
    screens.shoot(page, "dashboard-final")


def test_no_page_broke_the_content_security_policy(screens: Screens) -> None:
    assert screens.taken, "the browser tests ran first"
    assert screens.csp_violations == []
