"""The node's metrics (prometheus-client), in one registry per node: never the library's global one, so
several nodes in one process (the tests, the demo) each count their own.

Counted as things happen:

    gsomia_decisions_total{action,outcome,rule}      every audited decision of the policy, once per rule it
                                                     names (allow | deny); fed by the audit log (`audited`)
    gsomia_releases_total{action}                    items that left for a partner: release, relay, disclose
    gsomia_receipts_total{kind}                      partners' signed answers accepting our messages
    gsomia_refusals_total{action,rule}               refused: our policy's denials, partners' refusals
    gsomia_authentication_failures_total{reason}     bad tokens (looked up, audited) and throttled attempts
    gsomia_delivery_seconds{partner}                 a batch to a partner: from its POST to the recorded answer
    gsomia_feed_messages_total{source}               feed messages taken in (sequenced, buffered)
    gsomia_feed_gaps_total{source}                   holes seen in a stream (then asked for again)
    gsomia_feed_hop_seconds{stage}                   this node's share of a feed hop: `ingest` (a partner's batch
                                                     from its arrival to its fan-out), `post` (an official's
                                                     posted batch, once checked, to its fan-out) and `link` (from
                                                     a partner link's first queued message to its signed batch
                                                     on the wire)

and read from the store when scraped (services/metrics_scrape.py): outbox depth and oldest age per
partner, the audit head, and the age of the newest checkpoint each partner sent us. Nothing here holds
content, labels' text or tokens: label values are action names, rule ids, party codes and stage names.

The counters live in this process: a node served by several processes is the sum of their scrapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram

if TYPE_CHECKING:
    from gsomia.services.context import Node as _Watched
    from gsomia.services.metrics_scrape import StoreCollector
else:
    _Watched = Any

# What makes an audited decision a release (an item leaving for a partner), and a partner's answer a receipt.
RELEASE_ACTIONS = frozenset({"item.release", "item.relay", "item.disclose"})
_PEER_ANSWER = "peer."
_ACCEPTED = ".accepted"
NO_RULE = "none"
# Seconds: a batch to a partner answers in milliseconds on a LAN, seconds across the world or when retried.
DELIVERY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FEED_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class NodeMetrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        self._collector: StoreCollector | None = None
        self._feed_children: dict[str, tuple[Counter, Counter]] = {}
        self._hop_children: dict[str, Histogram] = {}
        self.decisions = Counter("gsomia_decisions", "Policy decisions recorded in the audit trail, per rule named",
                                 ["action", "outcome", "rule"], registry=registry)
        self.releases = Counter("gsomia_releases", "Items allowed to leave for a partner (release, relay, disclose)",
                                ["action"], registry=registry)
        self.receipts = Counter("gsomia_receipts", "Partners' signed answers accepting our messages",
                                ["kind"], registry=registry)
        self.refusals = Counter("gsomia_refusals", "Refusals: denials of our policy and partners' refusals",
                                ["action", "rule"], registry=registry)
        self.authentication_failures = Counter(
            "gsomia_authentication_failures", "Failed authentications: bad token (audited) or throttled",
            ["reason"], registry=registry)
        self.delivery_seconds = Histogram("gsomia_delivery_seconds",
                                          "Delivery of a batch to a partner, from its POST to the recorded answer",
                                          ["partner"], buckets=DELIVERY_BUCKETS, registry=registry)
        self.feed_messages = Counter("gsomia_feed_messages", "Feed messages taken in, by who handed them over",
                                     ["source"], registry=registry)
        self.feed_gaps = Counter("gsomia_feed_gaps", "Holes seen in feed streams (then asked for again)",
                                 ["source"], registry=registry)
        self.feed_hop_seconds = Histogram("gsomia_feed_hop_seconds", "This node's share of a feed hop, per stage",
                                          ["stage"], buckets=FEED_BUCKETS, registry=registry)

    def watch(self, node: _Watched) -> None:
        """Count what `node`'s audit log commits and read its store when scraped. A node's copies
        (`Node.with_partners`: the partners read) share its metrics: the newest is the one scraped."""
        if self._collector is not None:
            self._collector.node = node
            return
        from gsomia.services.metrics_scrape import StoreCollector  # it reads through the Node, which holds us

        self._collector = StoreCollector(node)
        node.store.call_when_audited(self.audited)
        self.registry.register(self._collector)

    def feed_taken(self, source: str, messages: int, gaps: int) -> None:
        """Per message on the feed's own path: the labelled children are looked up once (a lookup costs
        several times the increment)."""
        children = self._feed_children.get(source)
        if children is None:
            children = self._feed_children[source] = (self.feed_messages.labels(source), self.feed_gaps.labels(source))
        if messages:
            children[0].inc(messages)
        if gaps:
            children[1].inc(gaps)

    def feed_hop(self, stage: str, seconds: float) -> None:
        child = self._hop_children.get(stage)
        if child is None:
            child = self._hop_children[stage] = self.feed_hop_seconds.labels(stage)
        child.observe(seconds)

    def audited(self, entries: Sequence[object]) -> None:
        """Committed audit entries (services/audit_log.EntryDraft): decisions, releases, receipts, refusals."""
        for entry in entries:
            action: str = getattr(entry, "action", "")
            decision: str | None = getattr(entry, "decision", None)
            rules: tuple[str, ...] = tuple(getattr(entry, "rules", ())) or (NO_RULE,)
            if decision is not None:
                for rule in rules:
                    self.decisions.labels(action, decision, rule).inc()
                if decision == "deny":
                    for rule in rules:
                        self.refusals.labels(action, rule).inc()
                elif action in RELEASE_ACTIONS:
                    self.releases.labels(action).inc()
            elif action.startswith(_PEER_ANSWER):  # peer.<kind>.<outcome>: a partner's answer to our message
                kind = action[len(_PEER_ANSWER):].rpartition(".")[0]
                if action.endswith(_ACCEPTED):
                    self.receipts.labels(kind).inc()
                else:
                    for rule in rules:
                        self.refusals.labels(f"peer.{kind}", rule).inc()
