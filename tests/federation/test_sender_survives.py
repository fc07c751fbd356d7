"""The outbox sender outlives a store that cannot be read for a while (PostgreSQL restarting, say): it
logs the failure and looks again at the next poll, instead of stopping delivery for good."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

from gsomia.federation.sender import Sender
from gsomia.services.context import Node
from gsomia.services.partners import Partners


class FlakyStore:
    """A node whose outbox cannot be read twice, then is empty."""

    def __init__(self) -> None:
        self.reads = 0
        self.partners = Partners({"JPN": cast(Any, object())})

    async def read(self, _use_case: Any, *_args: Any, **_kwargs: Any) -> list[Any]:
        self.reads += 1
        if self.reads <= 2:
            raise ConnectionError("the database server is restarting")
        return []


def test_the_sender_keeps_looking_after_the_outbox_could_not_be_read() -> None:
    node = FlakyStore()
    sender = Sender(cast(Node, node), ssl.create_default_context(), poll_seconds=0.01)

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.ensure_future(sender.run(stop))
        for _ in range(200):  # bounded: at most 2 s
            if node.reads >= 4:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(running, 5)

    asyncio.run(scenario())
    assert node.reads >= 4  # it went on polling after both failures
