"""Is the node ready to serve (`GET /v1/ready`)? Liveness (`/v1/health`) only says the process answers.

    store     a read-only transaction answers within the probe's timeout
    keys      the node's key ring is loaded (GSOMIA_KEY_PASSPHRASE given)
    partners  each partner's peer endpoint accepts a TCP connection within ready_probe_timeout_s; probed at
              most every ready_probe_every_s (the answer is cached), all partners at once, so a probe
              costs one timeout at most however many partners are down

Not ready (503) names each failing check and why, never more: the route is open without a token, as
load balancers call it. With ready_needs_partners off, unreachable partners are reported but do not make
the node unready (it still takes releases: the outbox keeps them until the partner is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gsomia.services.context import Node


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str]  # check → "ok" or why not


@dataclass
class PartnerProbe:
    """Reachability of the partners' peer endpoints, cached for `every_s`."""

    every_s: float
    timeout_s: float
    _checked_at: float = -1e18
    _last: dict[str, str] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def reachability(self, node: Node) -> dict[str, str]:
        async with self._lock:
            if time.monotonic() - self._checked_at >= self.every_s:
                parties = sorted(node.partners.by_party)
                answers = await asyncio.gather(*(self._reach(node.partners.by_party[p].url) for p in parties))
                self._last, self._checked_at = dict(zip(parties, answers, strict=True)), time.monotonic()
            return dict(self._last)

    async def _reach(self, url: str) -> str:
        parts = urlsplit(url)
        try:
            host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.timeout_s)
        except (OSError, TimeoutError, ValueError) as bad:
            return f"unreachable ({type(bad).__name__})"
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return "ok"


async def check(node: Node, probe: PartnerProbe) -> Readiness:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(asyncio.to_thread(_store_answers, node), probe.timeout_s * 2)
        checks["store"] = "ok"
    except Exception as bad:  # noqa: BLE001 - whatever stops the store, the node is not ready
        checks["store"] = f"unreachable ({type(bad).__name__})"
    checks["keys"] = "ok" if node.keyring is not None else "not loaded (no key passphrase given)"
    partners = await probe.reachability(node)
    down = sorted(party for party, state in partners.items() if state != "ok")
    checks["partners"] = "ok" if not down else "; ".join(f"{p} {partners[p]}" for p in down)
    needed = [name for name in checks if name != "partners" or node.settings.ready_needs_partners]
    return Readiness(all(checks[name] == "ok" for name in needed), checks)


def _store_answers(node: Node) -> None:
    with node.store.unit_of_work(readonly=True) as uow:
        uow.audit.head()
