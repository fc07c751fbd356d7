"""Running nodes for the feed tests: posting tracks to an officials' API, subscribing to a node's feed, a
node's feed served alone (for its CoT listener)."""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tests.federation.harness import PASSPHRASE, RunningNode

from gsomia.crypto import PublicKeys, export_public
from gsomia.data import load_catalog
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.domain.labels import Label
from gsomia.feed.served import NodeFeed
from gsomia.feed.subscriber import FeedSubscriber, Update
from gsomia.services.context import Actor, Node
from gsomia.services.officials import authenticate
from gsomia.services.runtime import open_node
from gsomia.storage.records import AuditEntry

LABEL = {"classification": "KOR:II", "releasable_to": ["KOR", "USA", "JPN"], "topics": ["dprk-missile"],
         "purpose": "missile warning"}


def updates(stream: str, count: int, start_seq: int = 1, numbered: bool = True) -> list[dict[str, Any]]:
    """`count` track updates; numbered by the caller from `start_seq`, or left for the node to number."""
    now = time.time()
    out = []
    for i in range(count):
        message: dict[str, Any] = {
            "stream": stream, "sensor": "KOR-S1", "time": now + i * 0.05, "stale": now + 600, "kind": "update",
            "position": {"lat": 39.0 + i / 100, "lon": 126.0 + i / 10, "alt_m": 1000.0 * i},
            "velocity": {"east": 2000.0, "north": 100.0, "up": 500.0}}
        if numbered:
            message["seq"] = start_seq + i
        out.append(message)
    return out


def post(node: RunningNode, who: str, messages: list[dict[str, Any]], label: dict[str, Any] = LABEL) -> Any:
    return node.client(who).post("/v1/feed/tracks", json={"label": label, "messages": messages})


def consent_kor_to_jpn(kor: RunningNode) -> None:
    """KOR's standing written consent (T5) for the hub to pass its missile tracks on to JPN."""
    response = kor.client("officer").post("/v1/consents", json={
        "to": "JPN", "topics": ["dprk-missile"], "purpose": "TISA missile warning through the US hub"})
    assert response.status_code == 201, response.text


def subscriber(spec: LoopbackNode, who: str, seen: list[Update]) -> FeedSubscriber:
    keys = PublicKeys.from_dict(export_public(spec.data))
    assert isinstance(keys.verify_key, Ed25519PublicKey)
    catalog = load_catalog()
    context = ssl.create_default_context(cafile=str(spec.root_certificate))
    return FeedSubscriber(spec.feed_url, f"{spec.party}-{who}", keys.node, keys.verify_key,
                          lambda data: Label.from_canonical(data, catalog.schemes), ssl_context=context,
                          headers={"Authorization": f"Bearer {spec.tokens[who]}"}, on_update=seen.append)


def audit_entries(node: RunningNode | Node, prefix: str = "feed.") -> list[AuditEntry]:
    store = (node.node if isinstance(node, RunningNode) else node).store
    with store.unit_of_work(readonly=True) as uow:
        return [e for e in uow.audit.tail(100_000) if e.action.startswith(prefix)]


def officer(node: RunningNode) -> Actor:
    return Actor(authenticate(node.node, node.spec.tokens["officer"], via="cli-token"), "cli-token")


@contextlib.asynccontextmanager
async def kor_feed(base: Path) -> AsyncIterator[tuple[NodeFeed, LoopbackNode]]:
    """A KOR node with no partner, only its feed served (no API): what a CoT listener is built on."""
    spec = create_federation(base, passphrase=PASSPHRASE, parties=("KOR",))["KOR"]
    with open_node(spec.data, passphrase=PASSPHRASE) as node:
        feed = NodeFeed(node, server_context=None, client_context=None)
        await feed.start()
        try:
            yield feed, spec
        finally:
            await feed.close()
