"""A running node's feed decisions into its audit trail: aggregates each second, refusals at once.

The gates count (`hop_audit`); this writer drains the node's `HopLedger` every `interval_s` and hands
the aggregates of the interval to the services (`gsomia.services.feed_audit.record_hop_decisions`: one
entry per gate, stream and decision, in one transaction on the node's writer), so the loop that carries
the feed never waits on the store. A refusal wakes the writer at once: it reaches the trail when it is
decided, not a second later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gsomia.domain.hops import HopDecisions
from gsomia.feed.hop_audit import HopLedger
from gsomia.services.context import Node
from gsomia.services.feed_audit import record_hop_decisions

log = logging.getLogger(__name__)
MAX_HELD = 100_000  # records kept for a retry while the store is unavailable


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
            await self.node.write(record_hop_decisions, self.node, records)
        except Exception:  # a store hiccup must not end the feed: keep them for the next round
            log.exception("feed: cannot write %d decision aggregates to the audit trail", len(records))
            self._held = records[-MAX_HELD:]
            return
        self.written += len(records)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
