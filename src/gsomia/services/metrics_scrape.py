"""The node's metrics read from the store when scraped (a prometheus-client Collector over the node):

    gsomia_outbox_pending{partner}                     messages waiting to go to each partner
    gsomia_outbox_oldest_age_seconds{partner}          how long the oldest of them has waited
    gsomia_audit_head_seq                              the audit trail's newest entry
    gsomia_audit_anchor_age_seconds{partner}           since a partner last took our audit checkpoint: about
                                                       how much of the trail only the local chain protects
    gsomia_peer_checkpoint_age_seconds{partner}        since a partner's newest checkpoint reached us

Ages are in the node's clock. One short read-only transaction per scrape; a store that cannot be read
makes the scrape answer without these families (the counters still show) and logs why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gsomia.domain.officials import Role
from gsomia.services import access
from gsomia.services.context import Actor, Node
from gsomia.services.messages import AuditCheckpointMessage
from gsomia.storage import standing

log = logging.getLogger(__name__)


class StoreCollector(Collector):
    def __init__(self, node: Node) -> None:
        self.node = node

    def describe(self) -> Iterable[Metric]:
        return []  # what is collected depends on the store: described by collecting, at scrape time only

    def collect(self) -> Iterator[Metric]:
        node = self.node
        try:
            with node.store.unit_of_work(readonly=True) as uow:
                pending = standing.outbox_pending(uow.connection)
                head = uow.audit.head()[0]
                anchors = standing.anchors_delivered(uow.connection, AuditCheckpointMessage.kind)
                received = standing.peer_checkpoints_received(uow.connection)
        except Exception as bad:  # noqa: BLE001 - a scrape must answer; readiness says the store is down
            log.warning("metrics: cannot read the store: %s", type(bad).__name__)
            return
        now = node.clock()
        depth = GaugeMetricFamily("gsomia_outbox_pending", "Messages waiting to go to each partner",
                                  labels=["partner"])
        oldest = GaugeMetricFamily("gsomia_outbox_oldest_age_seconds",
                                   "How long the oldest message waiting for each partner has waited",
                                   labels=["partner"])
        waiting = {peer: (count, first) for peer, count, first in pending}
        for partner in sorted(set(node.partners.by_party) | set(waiting)):
            count, first = waiting.get(partner, (0, None))
            depth.add_metric([partner], count)
            oldest.add_metric([partner], max(0.0, (now - first).total_seconds()) if first is not None else 0.0)
        yield depth
        yield oldest
        yield GaugeMetricFamily("gsomia_audit_head_seq", "The audit trail's newest entry (its sequence number)",
                                value=head)
        anchored = GaugeMetricFamily("gsomia_audit_anchor_age_seconds",
                                     "Since each partner last took this node's audit checkpoint", labels=["partner"])
        for partner, at in sorted(anchors):
            anchored.add_metric([partner], max(0.0, (now - at).total_seconds()))
        yield anchored
        theirs = GaugeMetricFamily("gsomia_peer_checkpoint_age_seconds",
                                   "Since each partner's newest audit checkpoint reached this node", labels=["partner"])
        for partner, at in sorted(received):
            theirs.add_metric([partner], max(0.0, (now - at).total_seconds()))
        yield theirs


def exposition(node: Node, actor: Actor) -> bytes:
    """The node's metrics in Prometheus' text format, for a security officer (R6.e; a refusal is audited)."""
    access.require(node, actor, "metrics.scrape", None, Role.SECURITY_OFFICER)
    return generate_latest(node.metrics.registry)
