"""Three (or more) nodes on loopback with their own PKI and SQLite: what the demo and the federation tests run.

`create_federation(base, ...)` makes one data directory per party exactly as `gsomia init` does (keys,
database, first security officer), appoints the officials the scenario needs, issues their tokens and
introduces every node to every other (`gsomia peers add`, with a feed URL where `feed_links` says).
Running the nodes is the caller's choice: `gsomia serve` processes (the demo) or `NodeServer`s in threads (tests).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gsomia.config import Settings, load_settings, write_settings
from gsomia.crypto import export_public
from gsomia.services import officials
from gsomia.services.context import Actor
from gsomia.services.partners import add_peer
from gsomia.services.runtime import create_database, create_keys, open_node, unchecked_node

PARTIES = ("KOR", "JPN", "USA")
# Which node pushes its missile-warning feed to which: KOR to the US hub, the hub on to JPN (TISA).
FEED_LINKS = (("KOR", "USA"), ("USA", "JPN"))
MISSILE_TOPICS = ["dprk-missile", "dprk-nuclear"]

# name, clearance (code of the party's scheme by tier), roles
STAFF = {
    "releaser": ("SECRET", ["releasing_official", "reader"]),
    "analyst": ("SECRET", ["reader", "releasing_official"]),
    "officer": ("SECRET", ["security_officer", "reader"]),
}


@dataclass
class LoopbackNode:
    party: str
    data: Path
    api_port: int
    peer_port: int
    feed_port: int
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def peer_url(self) -> str:
        return f"https://127.0.0.1:{self.peer_port}"

    @property
    def feed_url(self) -> str:
        return f"wss://127.0.0.1:{self.feed_port}"

    @property
    def root_certificate(self) -> Path:
        return self.data / "keys" / "root.crt.pem"


PORTS_BELOW_EPHEMERAL = (20_000, 32_768)  # where free_port looks when the kernel's own range cannot be read


_HANDED_OUT: set[int] = set()  # by free_port in this process


def free_port() -> int:
    """A loopback port free now, chosen below the kernel's ephemeral range: a port the kernel handed out (port 0)
    may be handed out again at once as the source port of some outgoing connection (the database's, a partner's),
    and the node that binds it a moment later finds it in use. Checked by binding it, and never one this process
    handed out already (until half the range was: a federation's ports are all chosen before any is bound); the
    kernel's choice only if no port below the range is free after a bounded number of tries."""
    low, high = PORTS_BELOW_EPHEMERAL
    with contextlib.suppress(OSError, ValueError):
        first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
        low, high = min(low, first // 2), first
    if len(_HANDED_OUT) > (high - low) // 2:
        _HANDED_OUT.clear()  # a long run: the oldest are long closed
    for _ in range(200):
        port = secrets.randbelow(high - low) + low
        if port in _HANDED_OUT:
            continue  # free now, but a node given it earlier may not have bound it yet (a federation's nine ports)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_federation(base: Path, *, passphrase: bytes, parties: tuple[str, ...] = PARTIES,
                      clock_start: datetime | None = None,
                      feed_links: tuple[tuple[str, str], ...] = FEED_LINKS,
                      databases: dict[str, tuple[str, str]] | None = None) -> dict[str, LoopbackNode]:
    """`databases`: party → (PostgreSQL URL, schema) for nodes that should not use their own SQLite file
    (the schema must exist)."""
    nodes = {p: LoopbackNode(p, base / p.lower(), free_port(), free_port(), free_port()) for p in parties}
    anchor = datetime.now(timezone.utc)  # one anchor: the nodes' simulated clocks agree
    for node in nodes.values():
        _create_node(node, passphrase, clock_start, anchor, (databases or {}).get(node.party))
    documents = {p: export_public(n.data) for p, n in nodes.items()}
    for node in nodes.values():
        for other, document in documents.items():
            if other != node.party:
                feed_url = nodes[other].feed_url if (node.party, other) in feed_links else None
                add_peer(node.data, other, nodes[other].peer_url, json.loads(json.dumps(document)), feed_url)
    return nodes


def set_clock(node: LoopbackNode, clock_start: datetime | None, anchor: datetime | None = None) -> None:
    """Demo and tests only: the fictitious time the node's clock reads at `anchor` (real time)."""
    write_settings(load_settings(node.data).model_copy(update={"clock_start": clock_start, "clock_anchor": anchor}))


def _create_node(node: LoopbackNode, passphrase: bytes, clock_start: datetime | None, anchor: datetime,
                 database: tuple[str, str] | None) -> None:
    node.data.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings = Settings(party=node.party, name=f"{node.party} ministry of defence (loopback)",
                        database_url=database[0] if database else None,
                        database_schema=database[1] if database else None,
                        node_id=f"{node.party}-{secrets.token_hex(4)}", data_dir=node.data,
                        api_port=node.api_port, peer_port=node.peer_port, feed_port=node.feed_port,
                        clock_start=clock_start,
                        clock_anchor=anchor if clock_start else None)
    create_keys(settings, passphrase=passphrase)
    fresh = unchecked_node(settings)
    try:
        create_database(fresh)
        chief, issued = officials.bootstrap(fresh, name=f"{node.party} chief security officer", clearance=None,
                                            expires=None)
    finally:
        fresh.close()
    write_settings(settings.model_copy(update={"local_admin": chief.official.id}))
    node.tokens["chief"] = issued.token
    with open_node(node.data, passphrase=passphrase) as opened:
        actor = Actor(chief.official, via="cli-local")
        now = datetime.now(timezone.utc)
        scheme = opened.catalog.schemes.scheme(node.party)
        for name, (tier, roles) in STAFF.items():
            level = next(lv for lv in scheme.levels if lv.tier.name == tier)
            record = officials.appoint(opened, actor, name=f"{node.party} {name}", clearance=level.written,
                                       granted=min(now, clock_start or now) - timedelta(days=1), expires=None,
                                       need_to_know=MISSILE_TOPICS, roles=roles, reason="loopback federation")
            node.tokens[name] = officials.issue_token(opened, actor, record.official.id,
                                                      reason="loopback federation").token
