"""What the audit trail keeps of the feed's per-hop decisions: one aggregate per gate, stream and decision.

Every message is decided per recipient at every hop (release, relay, receive, read), and every
decision, allowed or refused, is audited. One audit entry per message would cost more than the hop
itself at 5,000 messages a second, so the gates count instead: each cached decision counts the
messages it was applied to, with their lowest and highest sequence number, and the `HopLedger`
collects those counts when the node's audit writer drains it (each second). A refusal is also
reported the moment it is decided, before any count, so that it reaches the trail at once.

Pure: the node's audit writer (`gsomia.feed.served_audit`) hands the `HopDecisions` to the services
(`gsomia.services.feed_audit`), which turn them into audit entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from gsomia.domain.hops import HopDecisions


class Counted(Protocol):
    """A gate whose counts the ledger collects (`dissemination.StreamFilter`)."""

    def counts(self, since: float, until: float) -> list[HopDecisions]:
        """The counts since the last call, resetting them."""
        ...


class HopLedger:
    """The node's collector: gates report closed counts and refusals here; the audit writer drains it."""

    def __init__(self, clock: Callable[[], float], on_refusal: Callable[[], None] | None = None) -> None:
        self._clock = clock
        self._gates: dict[int, Counted] = {}
        self._closed: list[HopDecisions] = []
        self._last_drain = clock()
        self.on_refusal = on_refusal  # the writer's wake-up: a refusal is written without waiting

    def watch(self, gate: Counted) -> None:
        self._gates[id(gate)] = gate

    def forget(self, gate: Counted) -> None:
        """A gate going away (a subscriber disconnected): keep what it counted."""
        if self._gates.pop(id(gate), None) is not None:
            self._closed.extend(gate.counts(self._last_drain, self._clock()))

    def closed(self, records: Iterable[HopDecisions]) -> None:
        """Counts of decisions a gate no longer holds (expired, invalidated)."""
        self._closed.extend(records)

    def refused(self, record: HopDecisions) -> None:
        self._closed.append(record)
        if self.on_refusal is not None:
            self.on_refusal()

    def drain(self) -> list[HopDecisions]:
        """Everything counted since the last drain, oldest interval first."""
        now = self._clock()
        out, self._closed = self._closed, []
        for gate in list(self._gates.values()):
            out.extend(gate.counts(self._last_drain, now))
        self._last_drain = now
        return out
