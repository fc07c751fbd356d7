"""The missile-warning feed's per-hop decisions in the audit trail: one entry per aggregate.

The feed's gates count what each decision was applied to (`gsomia.feed.hop_audit`), and the node's audit
writer (`gsomia.feed.served_audit`) hands the aggregates over each second, a refusal at once. Each becomes
one entry per (gate, stream, decision) — allowed or refused, with its rules and reasons, the other side of
the hop, the number of messages and their sequence range — all of them in one transaction. Entries name
streams and numbers only, never a track's content.

    feed.release   an originator's official releases its stream to a partner node
    feed.relay     the hub passes another party's stream on (T4, T5)
    feed.receive   this node takes a stream from a partner, re-marked (R4.4)
    feed.read      a subscriber (WebSocket or CoT) reads it
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from gsomia.domain.hops import HopDecisions
from gsomia.services.audit_log import EntryDraft, append
from gsomia.services.context import Node

VIA = "feed"


def audit_draft(record: HopDecisions) -> EntryDraft:
    agreement = (f"agreement: {record.agreement}",) if record.agreement else ()
    since = datetime.fromtimestamp(record.since, tz=timezone.utc).isoformat(timespec="milliseconds")
    until = datetime.fromtimestamp(record.until, tz=timezone.utc).isoformat(timespec="milliseconds")
    return EntryDraft(record.actor, VIA, f"feed.{record.action}", record.stream,
                      "allow" if record.allowed else "deny", record.rules,
                      (*record.reasons, *agreement, f"{record.summary()}; {since} to {until}"))


def record_hop_decisions(node: Node, records: Sequence[HopDecisions]) -> None:
    """The aggregates into the audit trail, in one transaction."""
    with node.store.unit_of_work() as uow:
        append(uow, node.clock(), [audit_draft(r) for r in records])
