"""`gsomia feed post|tail|streams`: the missile-warning feed from the command line.

The live feed is held by the running node (`gsomia serve`): it numbers each stream, keeps the replay buffer
and hands every message on to subscribers and partners, each hop decided by the policy. A CLI process has no
feed of its own, so `post` and `tail` speak the feed protocol to the node's feed port, as the official whose
personal token is in GSOMIA_TOKEN (the feed admits officials by token, never as the local administrator),
over TLS pinned to the node's own certificate:

- `post` checks every message first (a bad one: exit 2, nothing sent), then sends them in batches of up to
  1,000 as the feed protocol's `post` role (gsomia.feed.posting); the node publishes each batch by the same
  use case as `POST /v1/feed/tracks` and CoT (services.feed.publish: the originate decision, audited; the
  stream is then that official's, G2) and answers it. A refusal stops the post (exit 3, its rules and reasons).
- `tail` is a subscriber (gsomia.feed.subscriber): every batch verified against the node's signing key, gaps
  repaired; it sees what the policy lets the official read (R7.2), from what the node holds (up to ten minutes
  back) on. Track content is printed because it was asked for, each line with its marking.
- `streams` reads the node's replay store through the services (written behind the live feed every half
  second) and lists the streams the official may read, as `GET /v1/feed/streams` does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gsomia.cli.options import (
    EXIT_BAD_INPUT,
    TOKEN_ENV,
    Classification,
    DataOption,
    JsonOption,
    Purpose,
    Rel,
    Topics,
    WideOption,
    group,
    words,
)

if TYPE_CHECKING:
    from gsomia.config import Settings
    from gsomia.domain.schemes import Schemes
    from gsomia.feed.held import StoredTracks
    from gsomia.feed.subscriber import Update
    from gsomia.services.context import Node

app = group("The missile-warning feed: post tracks, follow them, list the streams (needs `gsomia serve`).")

BATCH = 1000  # messages per post, as POST /v1/feed/tracks takes them
CONNECT_S = 10.0


def _token() -> str:
    import os

    from gsomia.cli.output import fail

    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        fail(f"the feed admits officials by their personal token: set {TOKEN_ENV} "
             "(`gsomia officials token ID --reason ...` issues one)", EXIT_BAD_INPUT)
    return token


def _messages(file: Path | None) -> list[Any]:
    """Track messages from JSON Lines (or one JSON list), each checked as the node will check it."""
    from gsomia.cli.output import fail, read_documents
    from gsomia.services import feed_posts
    from gsomia.services.errors import InvalidInput

    messages = read_documents(file)
    if not messages:
        fail("no track message given (JSON Lines on --file or standard input)")
    for number, message in enumerate(messages, start=1):
        try:
            feed_posts.sensor_track(message, f"message {number}")
        except InvalidInput as bad:
            fail(str(bad))
    return messages


@app.command()
def post(
    data: DataOption, classification: Classification, purpose: Purpose, topics: Topics, rel: Rel = None,
    file: Annotated[Path | None, typer.Option("--file", help="Track messages, JSON Lines (default: stdin).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Post track messages (the fields of POST /v1/feed/tracks, one JSON object a line) under one label to the
    running node's feed, as GSOMIA_TOKEN's official."""
    import asyncio

    from gsomia.cli.node import session
    from gsomia.cli.output import out, print_json
    from gsomia.services import feed_posts

    token, messages = _token(), _messages(file)
    label = {"classification": classification, "purpose": purpose, "topics": words(topics),
             "releasable_to": [p.upper() for p in words(rel)]}
    with session(data) as (node, _):  # the token and the label checked here first: bad ones send nothing
        feed_posts.label_of(node, label)
        settings = node.settings
    accepted, streams = asyncio.run(_post(settings, token, label, messages))
    if as_json:
        print_json({"accepted": accepted, "streams": streams})
        return
    out().print(f"posted {accepted} messages: " + ", ".join(f"{s} up to #{n}" for s, n in sorted(streams.items())))


async def _post(settings: Settings, token: str, label: dict[str, Any],
                messages: list[Any]) -> tuple[int, dict[str, int]]:
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    from gsomia.cli.options import EXIT_REFUSED, EXIT_UNAVAILABLE
    from gsomia.cli.output import fail, progress
    from gsomia.cli.served import feed_url, own_tls_context
    from gsomia.feed.errors import FeedError
    from gsomia.feed.posting import PostRefused, posting

    url = feed_url(settings)
    accepted, streams = 0, dict[str, int]()
    try:
        with progress("posting", len(messages), shown=len(messages) > BATCH) as advance:
            async with posting(url, token, own_tls_context(settings), timeout_s=CONNECT_S) as send:
                for start in range(0, len(messages), BATCH):
                    answer = await send({"label": label, "messages": messages[start:start + BATCH]})
                    if isinstance(answer.get("error"), dict):
                        _stopped(answer["error"], accepted)
                    accepted += int(answer.get("accepted", 0))
                    streams.update(answer.get("streams") or {})
                    advance(len(messages[start:start + BATCH]))
    except PostRefused:
        fail(f"refused: the node's feed did not admit the token in {TOKEN_ENV}", EXIT_REFUSED)
    except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, FeedError) as down:
        fail(f"the node's feed at {url} is not reachable ({down or type(down).__name__}): is `gsomia serve "
             f"--data {settings.data_dir}` running?", EXIT_UNAVAILABLE)
    return accepted, streams


def _stopped(problem: dict[str, Any], accepted: int) -> None:
    """The node refused a batch: its error, and the exit code the same error has everywhere in the CLI."""
    from gsomia.cli.node import refuse
    from gsomia.cli.options import EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_UNAVAILABLE
    from gsomia.cli.output import fail

    if problem.get("code") == "refused":
        refuse(problem.get("rules") or [], problem.get("reasons") or [], str(problem.get("message")))
    codes = {"not_found": EXIT_NOT_FOUND, "conflict": EXIT_CONFLICT, "unauthenticated": EXIT_REFUSED,
             "store_unavailable": EXIT_UNAVAILABLE}
    before = f" ({accepted} messages were posted before it)" if accepted else ""
    fail(f"{problem.get('message')}{before}", codes.get(str(problem.get("code")), EXIT_BAD_INPUT))


@app.command()
def tail(
    data: DataOption,
    stream: Annotated[str | None, typer.Option(help="Only this stream.")] = None,
    count: Annotated[int, typer.Option(min=0, help="Stop after this many messages (0: no limit).")] = 0,
    timeout: Annotated[float, typer.Option(min=0, help="Stop after this many seconds (0: at Ctrl-C).")] = 0.0,
    as_json: JsonOption = False,
) -> None:
    """Follow the feed as GSOMIA_TOKEN's official reads it (R7.2): what the node holds, then live, each
    message verified, in order, gaps repaired; one line (or JSON object) a message, with its marking."""
    import asyncio

    from gsomia.cli.node import session

    token = _token()
    with session(data) as (node, _):  # the token checked here first (exit 3)
        settings, schemes = node.settings, node.schemes
    try:
        asyncio.run(_tail(settings, schemes, token, stream, count, timeout, as_json))
    except KeyboardInterrupt:
        pass


async def _tail(settings: Settings, schemes: Schemes, token: str, only: str | None, count: int, timeout: float,
                as_json: bool) -> None:
    import asyncio
    import contextlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from gsomia.cli.options import EXIT_REFUSED, EXIT_UNAVAILABLE
    from gsomia.cli.output import fail
    from gsomia.cli.served import feed_url, own_tls_context, serving
    from gsomia.crypto import PublicKeys, export_public
    from gsomia.domain.labels import Label
    from gsomia.feed.subscriber import FeedSubscriber

    keys = PublicKeys.from_dict(export_public(settings.data_dir))
    if not isinstance(keys.verify_key, Ed25519PublicKey):
        fail("the feed's batches are signed with Ed25519; this node's signing key is not one", EXIT_UNAVAILABLE)
    subscriber = FeedSubscriber(feed_url(settings), "gsomia-cli", keys.node, keys.verify_key,
                                lambda data: Label.from_canonical(data, schemes),
                                ssl_context=own_tls_context(settings), headers={"Authorization": f"Bearer {token}"})
    running = asyncio.ensure_future(subscriber.run())
    shown: set[str] = set()
    printed = 0
    try:
        try:
            await asyncio.wait_for(subscriber.connected.wait(), CONNECT_S)
        except TimeoutError:
            if not serving(settings, settings.feed_port):
                fail(f"the node's feed at {feed_url(settings)} is not reachable: is `gsomia serve --data "
                     f"{settings.data_dir}` running?", EXIT_UNAVAILABLE)
            fail(f"refused: the node's feed did not admit the token in {TOKEN_ENV}", EXIT_REFUSED)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        while not count or printed < count:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                break
            try:
                update = await asyncio.wait_for(subscriber.updates.get(), left)
            except TimeoutError:
                break
            if only is None or update.msg.stream == only:
                _show(update, schemes, shown, as_json)
                printed += 1
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


def _show(update: Update, schemes: Schemes, shown: set[str], as_json: bool) -> None:
    import json

    from gsomia.cli.output import err, out
    from gsomia.domain.tracks import instant
    from gsomia.services.feed_posts import track_dict

    msg = update.msg
    marking = str(msg.label.classification) + (f" / {msg.label.national_marking}" if msg.label.national_marking
                                               else "")
    if as_json:
        shown_fields = {**track_dict(msg), "originator": msg.originator, "classification": marking,
                        "provider": msg.label.provider, "late": update.late, "arrived_stale": update.stale}
        sys.stdout.write(json.dumps(shown_fields) + "\n")
        sys.stdout.flush()
        return
    if msg.stream not in shown:  # the banner once per stream, on stderr, as `items read` does (R4.4)
        shown.add(msg.stream)
        err().print(f"{msg.stream}: {msg.label.banner(schemes)}", markup=False)
    fields = track_dict(msg)
    where = fields.get("point") or fields.get("position")
    place = f" {where['lat']:.4f},{where['lon']:.4f} {where['alt_m']:.0f} m" if where else ""
    notes = "".join(f" ({n})" for n, on in (("late", update.late), ("stale", update.stale)) if on)
    out().print(f"{instant(msg.time):%Y-%m-%dT%H:%M:%S.%fZ} {msg.stream} #{msg.seq} {fields['kind']}{place}"
                f"{' ' + fields['reason'] if 'reason' in fields else ''} [{marking}]{notes}", markup=False)
    sys.stdout.flush()


@app.command()
def streams(data: DataOption, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """The streams this node holds that the acting official may read (R7.2), each with its newest message, as
    the node's replay store has them (written behind the live feed every half second)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json, print_table
    from gsomia.services import feed

    with session(data) as (node, actor):
        found = feed.visible_streams(node, _held(node), actor.official)
    rows = [{"stream": s.stream, "originator": s.originator, "newest_seq": s.newest_seq,
             "classification": s.classification, "provider": s.provider, "last_kind": s.last_kind,
             "last_time": s.last_time} for s in found]
    if as_json:
        print_json(rows)
        return
    print_table(("stream", "originator", "newest", "classification", "provider", "last"),
                [(r["stream"], r["originator"], r["newest_seq"], r["classification"], r["provider"], r["last_kind"])
                 for r in rows], ids=("stream",), wide=wide, empty="no streams you may read")


def _held(node: Node) -> StoredTracks:
    """The node's replay store as tracks (none if a SQLite node has never served its feed)."""
    from gsomia.domain.labels import Label
    from gsomia.feed.held import StoredTracks
    from gsomia.feed.served import REPLAY_MAX_AGE_S  # the live buffer's age bound: the same streams
    from gsomia.services.feed import REPLAY_FILE, open_replay_store

    if node.store.engine.dialect.name == "sqlite" and not (node.settings.data_dir / REPLAY_FILE).exists():
        return StoredTracks()
    store = open_replay_store(node)
    try:
        return StoredTracks.load(store, lambda data: Label.from_canonical(data, node.schemes),
                            now=node.clock().timestamp(), max_age_s=REPLAY_MAX_AGE_S)
    finally:
        store.close()
