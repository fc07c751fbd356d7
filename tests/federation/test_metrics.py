"""`/metrics` of running nodes, scraped as Prometheus would and parsed with prometheus-client's own parser:
every family is named, and the counts move after a release, its receipt and a refusal."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from tests.federation.harness import RunningNode, delivered, originate, wait_for

from gsomia.demo.client import official_client

FAMILIES = {
    "gsomia_decisions", "gsomia_releases", "gsomia_receipts", "gsomia_refusals", "gsomia_authentication_failures",
    "gsomia_delivery_seconds", "gsomia_feed_messages", "gsomia_feed_gaps", "gsomia_feed_hop_seconds",
    "gsomia_outbox_pending", "gsomia_outbox_oldest_age_seconds", "gsomia_audit_head_seq",
    "gsomia_audit_anchor_age_seconds", "gsomia_peer_checkpoint_age_seconds",
}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(node: RunningNode) -> tuple[set[str], Samples]:
    answer = node.client("officer").get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(answer.text))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}
    return {f.name for f in families}, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    return sum(v for (n, held), v in samples.items() if n == name and set(labels.items()) <= set(held))


def test_metrics_name_every_family_and_move_with_releases_receipts_and_refusals(
        nodes: dict[str, RunningNode]) -> None:
    kor = nodes["KOR"]
    names, before = scrape(kor)
    assert FAMILIES <= names, sorted(FAMILIES - names)

    item_id = originate(kor, "launch detected 39.0N 125.7E at 05:12Z, heading east")
    released = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN"})
    assert released.status_code == 202, released.text
    wait_for(lambda: delivered(kor, released.json()["message_id"]), "delivery to JPN")
    refused = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "USA", "via": "JPN"})
    assert refused.status_code == 403, refused.text
    with official_client(kor.spec.api_url, kor.spec.root_certificate, "not-a-token") as stranger:
        assert stranger.get("/v1/whoami").status_code == 401

    _, after = wait_for(lambda: _with_receipt(kor, before), "the receipt counted")
    assert value(after, "gsomia_releases_total", action="item.release") == \
        value(before, "gsomia_releases_total", action="item.release") + 1
    assert total(after, "gsomia_decisions_total", action="item.release", outcome="allow") > \
        total(before, "gsomia_decisions_total", action="item.release", outcome="allow")
    refused_rules = refused.json()["error"]["rules"]
    assert refused_rules
    for rule in refused_rules:
        assert value(after, "gsomia_refusals_total", action="item.release", rule=rule) == \
            value(before, "gsomia_refusals_total", action="item.release", rule=rule) + 1
        assert value(after, "gsomia_decisions_total", action="item.release", outcome="deny", rule=rule) == \
            value(before, "gsomia_decisions_total", action="item.release", outcome="deny", rule=rule) + 1
    assert value(after, "gsomia_authentication_failures_total", reason="bad-token") == \
        value(before, "gsomia_authentication_failures_total", reason="bad-token") + 1
    assert value(after, "gsomia_delivery_seconds_count", partner="JPN") > \
        value(before, "gsomia_delivery_seconds_count", partner="JPN")
    assert value(after, "gsomia_audit_head_seq") > value(before, "gsomia_audit_head_seq")
    for partner in ("JPN", "USA"):  # every partner has a depth, zero when nothing waits
        assert ("gsomia_outbox_pending", (("partner", partner),)) in after


def _with_receipt(node: RunningNode, before: Samples) -> tuple[set[str], Samples] | None:
    names, now = scrape(node)
    return (names, now) if value(now, "gsomia_receipts_total", kind="item") > \
        value(before, "gsomia_receipts_total", kind="item") else None


def test_metrics_need_a_security_officer(nodes: dict[str, RunningNode]) -> None:
    kor = nodes["KOR"]
    assert kor.client("releaser").get("/metrics").status_code == 403
    with official_client(kor.spec.api_url, kor.spec.root_certificate, "") as anonymous:
        assert anonymous.get("/metrics").status_code == 401


def test_the_scrapers_port_serves_the_same_registry_without_a_token(nodes: dict[str, RunningNode]) -> None:
    """`metrics_port` (off by default) serves `metrics_app` on the management network's address."""
    from fastapi.testclient import TestClient

    from gsomia.node import metrics_app

    kor = nodes["KOR"]
    with TestClient(metrics_app(kor.node.metrics.registry)) as scraper:
        answer = scraper.get("/metrics")
    assert answer.status_code == 200
    assert FAMILIES <= {f.name for f in text_string_to_metric_families(answer.text)}
    assert kor.node.settings.metrics_port is None
