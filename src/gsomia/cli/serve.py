"""`gsomia serve` and `gsomia peers add|list`: run a node; tell it its partners."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from gsomia.cli.options import EXIT_BAD_INPUT, DataOption, JsonOption, WideOption, group

if TYPE_CHECKING:
    from gsomia.node import NodeServer

peers_app = group("The partner nodes this node federates with.")


def serve_command(
    data: DataOption,
    log_level: Annotated[Optional[str], typer.Option(  # noqa: UP007 - Typer reads Optional
        "--log-level", help="debug, info, warning or error (default: the setting log_level, info)")] = None,
    log_format: Annotated[Optional[str], typer.Option(  # noqa: UP007
        "--log-format", help="json (one object a line) or text (default: the setting log_format, json)")] = None,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Worker processes, each serving the API and the peer endpoint (PostgreSQL only).")] = 1,
    worker: Annotated[int | None, typer.Option(hidden=True, help="Run as this worker of --workers.")] = None,
) -> None:
    """Run the node: officials' API (TLS), peer endpoint (mutual TLS), delivery to partners and the
    missile-warning feed (TLS WebSocket on feed_port), until Ctrl-C. Logs go to stderr. With --workers N,
    N processes share the ports and the outbox (docs/runbook.md); they log as the settings say."""
    import asyncio
    import logging

    import uvloop

    from gsomia.cli.allocator import bound_malloc_arenas
    from gsomia.cli.output import fail
    from gsomia.config import ConfigError
    from gsomia.feed.errors import FeedError
    from gsomia.node import NodeServer
    from gsomia.services import logs
    from gsomia.services.errors import ServiceError
    from gsomia.services.partners import PeerConfigError
    from gsomia.services.runtime import open_node

    arenas = bound_malloc_arenas()  # before any thread starts: see cli/allocator.py
    if log_level is not None and log_level.lower() not in ("debug", "info", "warning", "error"):
        fail(f"--log-level {log_level}: use debug, info, warning or error")
    if log_format is not None and log_format not in ("json", "text"):
        fail(f"--log-format {log_format}: use json or text")
    if workers > 1 and worker is None:
        from gsomia.cli.workers import supervise

        raise typer.Exit(supervise(data, workers))
    try:
        node = open_node(data)
    except (ConfigError, ServiceError, PeerConfigError) as bad:
        fail(str(bad))
    if workers > 1:
        from gsomia.cli.workers import sqlite_refusal

        refusal = sqlite_refusal(node.settings.effective_database_url)
        if refusal is not None:
            node.close()
            fail(refusal, code=EXIT_BAD_INPUT)
    logs.configure(log_level or node.settings.log_level, "text" if (log_format or node.settings.log_format) == "text"
                   else "json")
    logging.getLogger("gsomia.serve").info("malloc arenas: %s", "not glibc's malloc" if arenas is None
                                           else f"at most {arenas}")
    with node, asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        try:
            runner.run(_serve(NodeServer(node, worker=worker or 0, workers=workers)))
        except FeedError as no_feed:  # e.g. the feed_broker unreachable: said, not a traceback
            fail(f"{node.settings.party} node: {no_feed}")


async def _serve(server: NodeServer) -> None:
    import asyncio
    import signal

    from gsomia.cli.output import out

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop.set)
    task = asyncio.create_task(server.run())
    started = asyncio.create_task(server.started())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if not started.done():  # it stopped before serving (the feed's broker unreachable): its error is raised here
        started.cancel()
        await task
        return
    _freeze_what_serves()
    partners = ", ".join(server.partners) or "none"
    who = f"worker {server.worker}: " if server.worker else ""
    cot = f"  CoT/TAK tls://{server.node.settings.host}:{server.cot_port}" if server.cot_port else ""
    feed = f"feed {server.endpoints.feed_url}" if server.feed is not None else "feed (worker 0's)"
    out().print(f"{who}{server.node.party} node: officials' API {server.endpoints.api_url}  "
                f"peers {server.endpoints.peer_url}  {feed}{cot}  partners: {partners}")
    await task


def _freeze_what_serves() -> None:
    """Keep what the running node was built of (modules, apps, catalogue, TLS contexts: about 176,000 objects the
    collector tracks) out of the collector's full passes. Each full pass walked all of them: about 105 ms of CPU
    here, during which the event loop and the writer stood still (in bench_federation, KOR made one such pass of
    143 ms in one run and 513 ms in another, on a busy machine, amid the releases: a release's p99). Collected once
    first, so that no garbage of the start is kept; what the node allocates afterwards is collected as before."""
    import gc

    gc.collect()
    gc.freeze()


@peers_app.command("add")
def add(data: DataOption, party: Annotated[str, typer.Option(help="The partner's party code, e.g. JPN")],
        url: Annotated[str, typer.Option(help="The partner's peer endpoint, https://host:port")],
        public: Annotated[Path, typer.Option(help="The partner's `gsomia keys export-public` JSON")],
        feed_url: Annotated[str | None, typer.Option(
            help="The partner's feed endpoint, wss://host:port on the url's host: our feed is pushed there")] = None,
        as_json: JsonOption = False) -> None:
    """Record a partner node: its keys, pinned TLS certificate and national root."""
    import json

    from gsomia.cli.output import fail, out, print_json
    from gsomia.services.partners import PeerConfigError, add_peer

    try:
        document = json.loads(public.read_text(encoding="utf-8"))
        peer = add_peer(data, party.upper(), url, document, feed_url)
    except (OSError, json.JSONDecodeError, PeerConfigError) as bad:
        fail(f"cannot add peer {party}: {bad}")
    if as_json:
        print_json({"party": peer.party, "url": peer.url, "feed_url": peer.feed_url,
                    "tls_fingerprint": peer.tls_fingerprint})
        return
    feed = f", feed to {peer.feed_url}" if peer.feed_url else ""
    out().print(f"added {peer.party} at {peer.url}{feed} (TLS pinned {peer.tls_fingerprint})")


@peers_app.command("list")
def list_peers(data: DataOption, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """The configured partner nodes."""
    from gsomia.cli.output import fail, print_json, print_table
    from gsomia.services.partners import PeerConfigError, load_partners

    try:
        partners = load_partners(data)
    except PeerConfigError as bad:
        fail(str(bad))
    rows = [{"party": p.party, "url": p.url, "feed_url": p.feed_url or "", "tls_fingerprint": p.tls_fingerprint,
             "node": p.keys.node}
            for p in partners.by_party.values()]
    if as_json:
        print_json(rows)
        return
    print_table(("party", "url", "feed url", "node", "TLS fingerprint (SHA-256)"),
                [(r["party"], r["url"], r["feed_url"], r["node"], r["tls_fingerprint"]) for r in rows],
                ids=("url", "feed url", "node", "TLS fingerprint (SHA-256)"), wide=wide, empty="no partners")
