"""`gsomia serve` and `gsomia peers add|list`: run a node; tell it its partners."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvloop
from rich.table import Table

from gsomia.cli.common import console, fail, print_json
from gsomia.config import ConfigError
from gsomia.node import NodeServer
from gsomia.services.errors import ServiceError
from gsomia.services.partners import PeerConfigError, add_peer, load_partners
from gsomia.services.runtime import open_node

peers_app = typer.Typer(help="The partner nodes this node federates with.", no_args_is_help=True)

DataOption = Annotated[Path, typer.Option("--data", help="The node's data directory")]


def serve_command(data: DataOption) -> None:
    """Run the node: officials' API (TLS), peer endpoint (mutual TLS), delivery to partners and the
    missile-warning feed (TLS WebSocket on feed_port), until Ctrl-C."""
    try:
        node = open_node(data)
    except (ConfigError, ServiceError, PeerConfigError) as bad:
        raise fail(str(bad)) from None
    with node, asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(NodeServer(node)))


async def _serve(server: NodeServer) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop.set)
    task = asyncio.create_task(server.run())
    await server.started()
    partners = ", ".join(server.partners) or "none"
    console.print(f"{server.node.party} node: officials' API {server.endpoints.api_url}  "
                  f"peers {server.endpoints.peer_url}  feed {server.endpoints.feed_url}  partners: {partners}",
                  highlight=False)
    await task


@peers_app.command("add")
def add(data: DataOption, party: Annotated[str, typer.Option(help="The partner's party code, e.g. JPN")],
        url: Annotated[str, typer.Option(help="The partner's peer endpoint, https://host:port")],
        public: Annotated[Path, typer.Option(help="The partner's `gsomia keys export-public` JSON")],
        feed_url: Annotated[str | None, typer.Option(
            help="The partner's feed endpoint, wss://host:port on the url's host: our feed is pushed there")] = None,
        ) -> None:
    """Record a partner node: its keys, pinned TLS certificate and national root."""
    try:
        document = json.loads(public.read_text(encoding="utf-8"))
        peer = add_peer(data, party.upper(), url, document, feed_url)
    except (OSError, json.JSONDecodeError, PeerConfigError) as bad:
        raise fail(f"cannot add peer {party}: {bad}") from None
    feed = f", feed to {peer.feed_url}" if peer.feed_url else ""
    console.print(f"added {peer.party} at {peer.url}{feed} (TLS pinned {peer.tls_fingerprint[:16]}…)", highlight=False)


@peers_app.command("list")
def list_peers(data: DataOption, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The configured partner nodes."""
    try:
        partners = load_partners(data)
    except PeerConfigError as bad:
        raise fail(str(bad)) from None
    rows = [{"party": p.party, "url": p.url, "feed_url": p.feed_url or "", "tls_fingerprint": p.tls_fingerprint,
             "node": p.keys.node}
            for p in partners.by_party.values()]
    if as_json:
        print_json(rows)
        return
    table = Table(title="Partner nodes")
    for column in ("party", "url", "feed_url", "node", "tls_fingerprint"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["party"], row["url"], row["feed_url"], row["node"], row["tls_fingerprint"][:32] + "…")
    console.print(table)
