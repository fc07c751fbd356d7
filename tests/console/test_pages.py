"""The console over a real KOR node, without a browser (Starlette's TestClient, over https://): the security
rules every page and form must keep, the errors as pages, the banners, the map's data, the timelines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.api.helpers import Team, bearer

from gsomia.api import create_app
from gsomia.console import geo
from gsomia.console.pages import agreements, audit, exchange, home, items, missile, officials
from gsomia.console.session import check_form
from gsomia.data import load_catalog
from gsomia.domain.agreements import Notice
from gsomia.domain.life import status_on
from gsomia.domain.timeline import timeline
from gsomia.services.context import Node

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "gsomia" / "console"
BASE_URL = "https://testserver"


@pytest.fixture(scope="module")
def app_client(node_and_team: tuple[Node, Team]) -> Iterator[TestClient]:
    with TestClient(create_app(node_and_team[0]), base_url=BASE_URL) as made:
        yield made


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has a form with its CSRF token"
    return found.group(1)


def signed_in(node: Node, token: str) -> TestClient:
    client = TestClient(create_app(node), base_url=BASE_URL)
    form = client.get("/console/sign-in")
    answer = client.post("/console/sign-in", data={"token": token, "csrf": _csrf(form.text)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


def _item(client: TestClient, token: str, *, classification: str, rel: list[str]) -> str:
    answer = client.post("/v1/items", headers=bearer(token), json={
        "classification": classification, "releasable_to": rel, "topics": ["dprk-missile"], "purpose": "warning",
        "content_text": "the content"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_the_console_is_not_in_the_api_document(app_client: TestClient, node_and_team: tuple[Node, Team]) -> None:
    paths = app_client.get("/openapi.json", headers=bearer(node_and_team[1].officer)).json()["paths"]
    assert not [p for p in paths if p.startswith("/console")]


def test_every_page_carries_the_security_headers(app_client: TestClient) -> None:
    for path in ("/console/", "/console/sign-in", "/console/items/none", "/console/static/console.css"):
        headers = app_client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe" not in csp and "http" not in csp  # no inline script, no eval, no external origin
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert app_client.get("/console/").headers["cache-control"] == "no-store"


def test_without_a_session_every_page_is_the_sign_in_form(app_client: TestClient) -> None:
    for path in ("/console/", "/console/items", "/console/officials", "/console/audit", "/console/missile"):
        page = app_client.get(path)
        assert page.status_code == 401 and "Personal token" in page.text
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-gsomia-sign-in=") and "HttpOnly" in cookie and "Secure" in cookie
        assert "SameSite=Strict" in cookie


def test_every_form_is_csrf_checked() -> None:
    """Every router of console pages depends on the CSRF check; the map's socket, alone outside them, takes no
    form (it checks its session, origin and token itself)."""
    routers = [module.router for module in (agreements, audit, exchange, home, items, missile, officials)]
    posts = [r for router in routers for r in router.routes if isinstance(r, APIRoute) and "POST" in r.methods]
    assert len(posts) >= 20
    for router in routers:
        assert any(d.dependency is check_form for d in router.dependencies)
    assert not [r for r in missile.live.routes if isinstance(r, APIRoute)]


def test_a_form_without_its_token_or_from_elsewhere_is_refused_and_audited(node_and_team: tuple[Node, Team]) -> None:
    node, team = node_and_team
    client = signed_in(node, team.officer)
    token = _csrf(client.get("/console/officials").text)
    appoint = {"name": "Forged", "clearance": "KOR:II", "need_to_know": "", "reason": "x", "roles": "reader"}
    assert client.post("/console/officials", data=appoint).status_code == 403
    assert client.post("/console/officials", data={**appoint, "csrf": "0" * 64}).status_code == 403
    elsewhere = client.post("/console/officials", data={**appoint, "csrf": token},
                            headers={"Origin": "https://attacker.example"})
    assert elsewhere.status_code == 403 and "another origin" in elsewhere.text
    names = {o["name"] for o in client.get("/v1/officials", headers=bearer(team.officer)).json()}
    assert "Forged" not in names
    entries = client.get("/v1/audit/entries", headers=bearer(team.officer), params={"limit": 1000}).json()["entries"]
    refused = [e for e in entries if e["action"] == "console.form POST /console/officials"]
    assert len(refused) == 3 and all(e["rules"] == ["R7.1"] for e in refused)
    done = client.post("/console/officials", data={**appoint, "name": "Rightful", "csrf": token},
                       follow_redirects=False)
    assert done.status_code == 303  # the same form with its token goes through


def test_the_sign_in_form_needs_its_double_submit_token(app_client: TestClient,
                                                        node_and_team: tuple[Node, Team]) -> None:
    client = TestClient(app_client.app, base_url=BASE_URL)
    refused = client.post("/console/sign-in", data={"token": node_and_team[1].officer, "csrf": "guess"})
    assert refused.status_code == 403 and "Personal token" in refused.text


def test_errors_are_pages_with_their_reasons_never_a_trace(node_and_team: tuple[Node, Team]) -> None:
    node, team = node_and_team
    client = signed_in(node, team.outsider)  # releasing official without need-to-know for dprk-missile
    missing = client.get("/console/items/KOR-nothing")
    assert missing.status_code == 404 and "unknown item" in missing.text
    item = _item(client, team.releaser, classification="KOR:II", rel=["KOR"])
    refused = client.get(f"/console/items/{item}")
    assert refused.status_code == 403 and 'class="rule"' in refused.text and "R7.2" in refused.text
    token = _csrf(client.get("/console/items/new").text)
    incomplete = client.post("/console/items", data={"csrf": token, "classification": "KOR:II"},
                             files={"content": ("a.txt", b"x")})
    assert incomplete.status_code == 400 and "purpose" in incomplete.text
    for answer in (missing, refused, incomplete):
        assert "Traceback" not in answer.text and 'class="banner' in answer.text


def test_the_banner_is_the_highest_classification_on_the_page(node_and_team: tuple[Node, Team]) -> None:
    node, team = node_and_team
    client = signed_in(node, team.officer)
    assert re.search(r'class="banner banner-u"[^>]*>UNCLASSIFIED<', client.get("/console/agreements").text)
    confidential = _item(client, team.releaser, classification="KOR:III", rel=["KOR", "USA"])
    page = client.get(f"/console/items/{confidential}").text
    assert re.search(r'class="banner banner-c"[^>]*>CONFIDENTIAL//REL TO USA, KOR<', page)
    _item(client, team.releaser, classification="KOR:II", rel=["KOR"])
    inventory = client.get("/console/items").text
    assert re.search(r'class="banner banner-s"[^>]*>SECRET', inventory)


def test_a_refused_read_is_audited_and_an_allowed_one_shows_the_content(node_and_team: tuple[Node, Team]) -> None:
    node, team = node_and_team
    item = _item(signed_in(node, team.releaser), team.releaser, classification="KOR:II", rel=["KOR"])
    reader = signed_in(node, team.reader)
    page = reader.get(f"/console/items/{item}")
    read = reader.post(f"/console/items/{item}/read", data={"csrf": _csrf(page.text), "purpose": "not the purpose"})
    assert read.status_code == 403 and "R6.b" in read.text  # read only for the purpose it was provided for
    read = reader.post(f"/console/items/{item}/read", data={"csrf": _csrf(page.text)})
    assert read.status_code == 200 and "the content" in read.text
    entries = reader.get("/v1/audit/entries", headers=bearer(team.officer), params={"limit": 1000}).json()["entries"]
    decisions = [e["decision"] for e in entries if e["action"] == "item.read" and e["subject"] == item]
    assert decisions == ["deny", "allow"]


def test_a_reader_is_offered_only_what_a_reader_may_do(node_and_team: tuple[Node, Team]) -> None:
    node, team = node_and_team
    reader = signed_in(node, team.reader)
    dashboard = reader.get("/console/").text
    assert "/console/officials" not in dashboard and "/console/audit" not in dashboard
    assert reader.get("/console/officials").status_code == 403  # and the service says so too (R6.e)


def test_templates_and_scripts_keep_to_the_content_security_policy() -> None:
    for template in (CONSOLE / "templates").glob("*.html"):
        source = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), f"{template.name}: inline script"
        assert not re.search(r"\sstyle=|<style", source), f"{template.name}: inline style"
        assert not re.search(r"\son[a-z]+=", source), f"{template.name}: inline event handler"
        assert not re.search(r"(src|href|action)=\"(https?:)?//", source), f"{template.name}: external origin"
    for script in (CONSOLE / "static").glob("*.js"):
        source = script.read_text(encoding="utf-8")
        assert "eval(" not in source and "new Function" not in source
        assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg)", source), f"{script.name}: external origin"


def test_the_map_data_names_its_source_and_stays_in_the_region() -> None:
    drawn = geo.base_map()
    assert "Natural Earth" in drawn.source and "public domain" in drawn.licence
    assert {name for name, _ in drawn.countries} >= {"South Korea", "North Korea", "Japan"}
    p = drawn.projection
    for _, path in drawn.countries:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
        xs, ys = numbers[0::2], numbers[1::2]
        assert min(xs) >= 0 and max(xs) <= p.width + 0.1 and min(ys) >= 0 and max(ys) <= p.height + 0.1
    seoul = next(place for place in drawn.places if place.text == "Seoul")
    assert (seoul.x, seoul.y) == p.xy(126.98, 37.57)


def test_the_timeline_agrees_with_the_life_of_the_agreement_day_by_day() -> None:
    agreement = load_catalog().agreement("jpn-kor-gsomia-2016")
    line = timeline(agreement, date(2026, 11, 22))
    day = line.start
    while day < line.end:  # bounded: the timeline's own horizon
        span = next(s for s in line.spans if s.start <= day < s.end)
        assert span.condition == status_on(agreement, day).condition, day
        day += timedelta(days=1)
    kinds = [m.kind for m in line.marks if date(2019, 1, 1) <= m.on <= date(2023, 12, 31)]
    assert {"notice_pending", "notice_suspended", "notice_withdrawn", "notice_deadline", "renewal"} <= set(kinds)


def test_a_notice_recorded_later_shows_on_the_timeline_without_changing_it() -> None:
    agreement = load_catalog().agreement("jpn-kor-gsomia-2016")
    later = Notice("JPN-2027-termination", "termination", "JPN", date(2027, 3, 1), note="a notice recorded later")
    changed = type(agreement)(**{**{f: getattr(agreement, f) for f in agreement.__dataclass_fields__ if f != "_rows"},
                                 "notices": (*agreement.notices, later)})
    line = timeline(changed, date(2027, 6, 1))
    assert any(m.kind == "notice_pending" and m.on == date(2027, 3, 1) for m in line.marks)
    assert any(m.kind == "terminated" for m in line.marks)
    assert line.spans[-1].condition == "terminated"
