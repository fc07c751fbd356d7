"""Several senders over one outbox (worker processes of one node): each message leaves exactly once.

KOR's outbox is shared by two senders, each over its own connection to the store as two worker processes
have; the releases are written by each worker (born claimed by its own sender) and by a third process with no
sender (left for whichever claims them first). JPN's real peer endpoint counts every message each POST
carries before it handles it. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import PG_URL, pg_schemas, require_postgres
from tests.federation.counting import CountingReceiver
from tests.federation.harness import PASSPHRASE

from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.domain.parsing import label_from_dict
from gsomia.federation.sender import Sender
from gsomia.node import NodeTLS
from gsomia.services import exchange, handling, officials
from gsomia.services.context import Actor, Node
from gsomia.services.runtime import open_node
from gsomia.storage.exchange import PENDING

BATCHES, EACH = 6, 4  # each of the three writers writes EACH releases in each of BATCHES transactions
ITEMS = 3 * BATCHES * EACH


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def federation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, LoopbackNode]]:
    if request.param == "sqlite":
        yield create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR", "JPN"), feed_links=())
        return
    require_postgres()
    with pg_schemas("shared") as (schema,):
        yield create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR", "JPN"), feed_links=(),
                                databases={"KOR": (PG_URL, schema)})


def releaser(node: Node, spec: LoopbackNode) -> Actor:
    return Actor(officials.authenticate(node, spec.tokens["releaser"]), "test")


def release_items(node: Node, actor: Actor, count: int, text: str) -> list[str]:
    """`count` items originated and released to JPN in one transaction; their message ids."""
    label = label_from_dict({"originator": "KOR", "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"],
                             "topics": ["dprk-missile"], "purpose": "missile warning"}, node.schemes, node.clock())
    items = [handling.originate(node, actor, label, f"{text} {n}".encode()).id for n in range(count)]
    outcomes = exchange.release_many(node, actor, [exchange.Release(item, "JPN") for item in items])
    assert all(isinstance(o, str) for o in outcomes), outcomes
    return [str(o) for o in outcomes]


def pending(node: Node) -> int:
    with node.store.unit_of_work(readonly=True) as uow:
        return len(uow.exchange.outbox(state=PENDING, limit=10_000))


def test_two_senders_over_one_outbox_send_each_message_once(federation: dict[str, LoopbackNode]) -> None:
    kor, jpn = federation["KOR"], federation["JPN"]
    receiving = open_node(jpn.data, passphrase=PASSPHRASE)
    receiver = CountingReceiver(receiving, jpn.peer_port, PASSPHRASE).start()
    workers = [open_node(kor.data, passphrase=PASSPHRASE) for _ in range(2)]
    writer = open_node(kor.data, passphrase=PASSPHRASE)  # a third process, with no sender of its own
    senders = [Sender(w, NodeTLS.of(w, PASSPHRASE).client, poll_seconds=0.02) for w in workers]
    stops = [w.store.call_when_enqueued(s.notify, claimant=s.claimant) for w, s in zip(workers, senders, strict=True)]
    written: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        running = [asyncio.ensure_future(s.run(stop)) for s in senders]
        for round_ in range(BATCHES):
            for who, node in enumerate((*workers, writer)):
                actor = releaser(node, kor)
                written.extend(await asyncio.to_thread(release_items, node, actor, EACH, f"round {round_} by {who}"))
        for _ in range(600):  # bounded: 60 s
            if await asyncio.to_thread(pending, writer) == 0:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*running), 30)

    try:
        asyncio.run(scenario())
        assert pending(writer) == 0
        items = receiver.of_kind("item")
        assert sorted(items) == sorted(written) and len(written) == ITEMS
        assert set(items.values()) == {1}, {m: n for m, n in items.items() if n != 1}  # none sent twice
        assert all(n == 1 for n in receiver.taken.values())  # nor anything else (receipts, checkpoints)
    finally:
        for stop_notifying in stops:
            stop_notifying()
        receiver.stop()
        for node in (*workers, writer, receiving):
            node.close()
