"""A running node's feed decisions into its audit trail: aggregates each second, refusals at once.

The gates count (`hop_audit`); this writer drains the node's `HopLedger` every `interval_s` and
appends one entry per (gate, stream, decision) that was applied in the interval — allowed or refused,
with its rules and reasons, the other side of the hop, the number of messages and their sequence
range — in one transaction, from a worker thread, so the loop that carries the feed never waits on
the store. A refusal wakes the writer at once: it reaches the trail when it is decided, not a second
later. Entries name streams and numbers only, never a track's content.

    feed.release   an originator's official releases its stream to a partner node
    feed.relay     the hub passes another party's stream on (T4, T5)
    feed.receive   this node takes a stream from a partner, re-marked (R4.4)
    feed.read      a subscriber (WebSocket or CoT) reads it
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timezone

from gsomia.domain.hops import HopDecisions
from gsomia.feed.hop_audit import HopLedger
from gsomia.services.audit_log import EntryDraft, append
from gsomia.services.context import Node

log = logging.getLogger(__name__)
VIA = "feed"
MAX_HELD = 100_000  # records kept for a retry while the store is unavailable


def audit_draft(record: HopDecisions) -> EntryDraft:
    agreement = (f"agreement: {record.agreement}",) if record.agreement else ()
    since = datetime.fromtimestamp(record.since, tz=timezone.utc).isoformat(timespec="milliseconds")
    until = datetime.fromtimestamp(record.until, tz=timezone.utc).isoformat(timespec="milliseconds")
    return EntryDraft(record.actor, VIA, f"feed.{record.action}", record.stream,
                      "allow" if record.allowed else "deny", record.rules,
                      (*record.reasons, *agreement, f"{record.summary()}; {since} to {until}"))


class HopAuditWriter:
    """`start()` in the node's loop, `close()` at shutdown (which writes what is left)."""

    def __init__(self, node: Node, ledger: HopLedger, interval_s: float = 1.0) -> None:
        self.node, self.ledger = node, ledger
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._held: list[HopDecisions] = []
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        ledger.on_refusal = self._wake.set

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        records = self._held + self.ledger.drain()
        self._held = []
        if not records:
            return
        try:
            await asyncio.to_thread(self._append, records)
        except Exception:  # a store hiccup must not end the feed: keep them for the next round
            log.exception("feed: cannot write %d decision aggregates to the audit trail", len(records))
            self._held = records[-MAX_HELD:]

    def _append(self, records: Sequence[HopDecisions]) -> None:
        with self.node.store.unit_of_work() as uow:
            append(uow, self.node.clock(), [audit_draft(r) for r in records])
        self.written += len(records)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
