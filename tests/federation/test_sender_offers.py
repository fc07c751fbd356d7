"""The store hands the sender each durable outbox write: a message first in line for its partner and
item leaves at once, without another read of the outbox; the others wait for their turn (a later look
at the outbox), and no message is ever in two batches."""

from __future__ import annotations

import asyncio
import ssl
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from gsomia.federation.sender import BATCHES_IN_FLIGHT_PER_PEER, Sender
from gsomia.services.context import Node
from gsomia.services.partners import Partners
from gsomia.storage.exchange import PENDING, Enqueued, OutboxMessage

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def _message(message_id: str, peer: str = "JPN", item_id: str | None = "KOR-1", at: datetime = NOW) -> OutboxMessage:
    return OutboxMessage(message_id, peer, "item", item_id, b"\xa0", PENDING, 0, at, at)


class Outbox:
    """A node whose outbox holds `due`; counts the reads."""

    def __init__(self, due: list[OutboxMessage]) -> None:
        self.due, self.reads = due, 0
        self.clock = lambda: NOW
        self.partners = Partners({"JPN": cast(Any, object()), "USA": cast(Any, object())})

    async def read(self, _use_case: Any, *_args: Any, **_kwargs: Any) -> list[OutboxMessage]:
        self.reads += 1
        return self.due

    async def write(self, _use_case: Any, *_args: Any, **_kwargs: Any) -> list[OutboxMessage]:
        return self.due  # the claim of what was due: all of it (no other sender here)


def _sender(node: Outbox, more_about_these_items: bool = False,
            ) -> tuple[Sender, list[tuple[str, list[str]]], asyncio.Event]:
    sender = Sender(cast(Node, node), ssl.create_default_context())
    started: list[tuple[str, list[str]]] = []
    answered = asyncio.Event()

    async def deliver(peer: str, batch: list[OutboxMessage]) -> bool:  # stands in for the POST and its record
        started.append((peer, [m.message_id for m in batch]))
        await answered.wait()
        return more_about_these_items

    sender._deliver_batch = deliver  # type: ignore[method-assign]  # noqa: SLF001
    return sender, started, answered


def test_messages_first_in_line_leave_at_once_and_the_others_wait_their_turn() -> None:
    node = Outbox([])

    async def scenario() -> None:
        sender, started, answered = _sender(node)
        sender._offer([Enqueued(_message("m-release"), True),  # noqa: SLF001
                       Enqueued(_message("m-recall"), False),  # behind the release of the same item
                       Enqueued(_message("m-checkpoint", "USA", None), True),
                       Enqueued(_message("m-retry", at=NOW + timedelta(minutes=1)), True)])  # not due yet
        await asyncio.sleep(0)
        assert started == [("JPN", ["m-release"]), ("USA", ["m-checkpoint"])]
        assert sender.wake.is_set()  # the others are for the next look at the outbox
        assert node.reads == 0
        answered.set()

    asyncio.run(scenario())


def test_no_message_is_in_two_batches_and_a_full_partner_waits() -> None:
    node = Outbox([_message("m-0"), _message("m-new", item_id="KOR-2")])

    async def scenario() -> None:
        sender, started, answered = _sender(node)
        sender._offer([Enqueued(_message("m-0"), True)])  # noqa: SLF001
        await asyncio.sleep(0)
        # The outbox, read meanwhile, holds m-0 too: it is on its way already and does not leave again.
        await sender.dispatch_due()
        await asyncio.sleep(0)
        assert started == [("JPN", ["m-0"]), ("JPN", ["m-new"])]
        assert sender.batches["JPN"] == BATCHES_IN_FLIGHT_PER_PEER
        sender.wake.clear()
        sender._offer([Enqueued(_message("m-more", item_id="KOR-3"), True)])  # noqa: SLF001
        await asyncio.sleep(0)
        assert len(started) == 2 and sender.wake.is_set()  # no room: it leaves when a batch is answered
        answered.set()

    asyncio.run(scenario())


def test_an_answered_batch_looks_at_the_outbox_again_only_when_something_waits() -> None:
    for more, backlog, looks in ((False, False, False), (True, False, True), (False, True, True)):

        async def scenario(more: bool = more, backlog: bool = backlog) -> bool:
            sender, _, answered = _sender(Outbox([]), more_about_these_items=more)
            sender._offer([Enqueued(_message("m-release"), True)])  # noqa: SLF001
            sender.backlog = backlog
            sender.wake.clear()
            answered.set()
            await asyncio.wait(sender.tasks)
            await asyncio.sleep(0)
            return sender.wake.is_set()

        assert asyncio.run(scenario()) is looks, (more, backlog)
