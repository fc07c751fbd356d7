"""Which one of a node's feed processes pushes its streams to the partners' feeds: a lease in JetStream.

Every feed process sharing a broker (`feed_broker`) sees every message of the node's streams, so each could push
them to the partners; then each partner would receive every stream once per process and drop the repeats by
number. Instead one process holds the lease and runs the partner links; the others stand by. The lease is a key
in a JetStream key-value bucket whose entries live `ttl_s`: the holder renews it every third of that, and if it
stops (killed, hung, cut off from the broker), the entry expires and the first process to find the key free
takes the lease and links to the partners, which resume from the numbers they hold (replayed from that process's
buffer). Between a holder hung past `ttl_s` and its noticing, two processes may push at once for a moment: the
partner drops the repeats by number, as it does on any reconnection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from gsomia.feed.errors import FeedError

log = logging.getLogger(__name__)
KEY = "partner-links"


def holder_name() -> str:
    """Who holds the lease, as an operator reads it: host, process id and a per-start nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LinkLease:
    def __init__(self, kv: KeyValue, holder: str, ttl_s: float) -> None:
        self._kv, self.holder, self.ttl_s = kv, holder, ttl_s
        self._revision: int | None = None  # of our entry, while we hold the lease

    @classmethod
    async def open(cls, js: JetStreamContext, prefix: str, *, ttl_s: float = 3.0, holder: str | None = None,
                   timeout_s: float = 2.0) -> LinkLease:
        bucket = f"GSOMIA_FEED_LINKS_{prefix}".replace("-", "_")
        try:
            kv = await asyncio.wait_for(js.create_key_value(KeyValueConfig(
                bucket=bucket, ttl=ttl_s, history=1, storage=StorageType.MEMORY)), timeout_s)
        except (TimeoutError, NatsError) as refused:
            raise FeedError(f"feed broker: no key-value bucket {bucket} for the partner links' lease:"
                            f" {str(refused) or type(refused).__name__}") from None
        return cls(kv, holder or holder_name(), ttl_s)

    @property
    def held(self) -> bool:
        return self._revision is not None

    async def hold(self) -> bool:
        """Take the lease if it is free, renew it if it is ours: whether this process holds it now. A broker that
        does not answer counts as lost (another process may be taking it over)."""
        value = self.holder.encode()
        try:
            if self._revision is None:
                self._revision = await self._kv.create(KEY, value)
                log.info("feed: %s holds the partner links' lease", self.holder)
            else:
                self._revision = await self._kv.update(KEY, value, last=self._revision)
        except KeyWrongLastSequenceError:
            if self._revision is not None:
                log.warning("feed: %s lost the partner links' lease to another process", self.holder)
            self._revision = None
        except (TimeoutError, NatsError) as unanswered:
            if self._revision is not None:
                log.warning("feed: %s cannot renew the partner links' lease: %s", self.holder,
                            str(unanswered) or type(unanswered).__name__)
            self._revision = None
        return self._revision is not None

    async def holder_now(self) -> str | None:
        """Which process holds the lease, as the broker says (None: nobody)."""
        try:
            entry = await self._kv.get(KEY)
        except NatsError:
            return None
        return entry.value.decode() if entry.value else None

    async def release(self) -> None:
        """Give the lease up at once (a process stopping), so that another takes it without waiting `ttl_s`."""
        if self._revision is None:
            return
        revision, self._revision = self._revision, None
        try:
            await self._kv.delete(KEY, last=revision)
        except (TimeoutError, NatsError):
            pass  # it expires within ttl_s anyway
