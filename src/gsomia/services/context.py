"""What every use case is given: one `Node` (its store, party, catalogue, clock, keys and partners) and,
for what an official does, the authenticated `Actor`.

    node.settings    its settings (gsomia.toml and GSOMIA_* variables: ports, data directory …)
    node.store       the database (units of work; the writer that batches them, storage/writer.py)
    node.party       whose node this is
    node.catalog     schemes and agreements, as the node's agreement events make them now (node.schemes)
    node.clock()     now (a demo or test node may run from another instant)
    node.keys        the key ring (signing, sealing); KeysUnavailable if the node was opened without it
    node.sealer      content sealed at rest to the node's own key
    node.partners    the partner nodes of peers.toml (their keys, pinned certificates, addresses)
    node.metrics     its metrics (services/metrics.py), scraped at /metrics

A node is opened by `services.runtime.open_node(DIR)`; a test may build one from settings and a store.
Use cases that write and are called from an event loop go through `node.write(use_case, *args)`: one
thread runs them in batched transactions (storage/writer.py); mypy checks the arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from types import TracebackType
from typing import ParamSpec, Protocol, TypeVar

from gsomia.config import Settings
from gsomia.crypto import KeyRing, RingCheckpointSigner, RingSealer
from gsomia.data import load_catalog
from gsomia.domain.catalog import Catalog
from gsomia.domain.officials import Official
from gsomia.domain.schemes import Schemes
from gsomia.services.audit_chain import CheckpointSigner
from gsomia.services.errors import KeysUnavailable, StoreUnavailable
from gsomia.services.live_catalog import LiveCatalog
from gsomia.services.metrics import NodeMetrics
from gsomia.services.partners import Partners
from gsomia.storage.unit_of_work import Store
from gsomia.storage.writer import WriterClosed

P = ParamSpec("P")
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ContentSealer(Protocol):
    """Binds content to its label; the crypto layer's implementation plugs in here."""

    def seal(self, label_bytes: bytes, plaintext: bytes) -> bytes: ...

    def open(self, label_bytes: bytes, blob: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated official and the channel they came through (recorded in every audit entry)."""

    official: Official
    via: str  # cli-local | cli-token | api | node | feed | cot | console | taxii


@dataclass(frozen=True, eq=False)
class Node:
    """One node, as every use case sees it (see the module docstring)."""

    settings: Settings
    store: Store
    live_catalog: LiveCatalog = field(default_factory=lambda: LiveCatalog(load_catalog()))
    clock: Callable[[], datetime] = utc_now
    keyring: KeyRing | None = None
    partners: Partners = field(default_factory=Partners.none)
    # Its metrics (services/metrics.py): one registry per node, fed by its store's audit log once committed.
    metrics: NodeMetrics = field(default_factory=NodeMetrics)

    def __post_init__(self) -> None:
        self.metrics.watch(self)

    @property
    def catalog(self) -> Catalog:
        """The catalogue as this node's applied agreement events make it now (services/live_catalog.py).
        Read it once per decision: an event applied meanwhile installs a new one."""
        return self.live_catalog.current

    @property
    def party(self) -> str:
        return self.settings.party

    @property
    def schemes(self) -> Schemes:
        return self.catalog.schemes

    @property
    def keys(self) -> KeyRing:
        if self.keyring is None:
            raise KeysUnavailable("this needs the node's keys: set GSOMIA_KEY_PASSPHRASE (or _FILE) and try again")
        return self.keyring

    @functools.cached_property
    def sealer(self) -> ContentSealer:
        """Content sealed at rest to the node's own key (`crypto.RingSealer`)."""
        return RingSealer(self.keys, self.clock)

    @functools.cached_property
    def checkpoint_signer(self) -> CheckpointSigner:
        return RingCheckpointSigner(self.keys)

    def with_partners(self, partners: Partners) -> Node:
        """The same node (same store) knowing other partners: tests, and a peers.toml re-read."""
        return replace(self, partners=partners)

    async def write(self, use_case: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`use_case(*args, **kwargs)` on the store's writer (storage/writer.py), for callers on an event
        loop: run in one transaction with the writes waiting beside it, answered once that is durable."""
        return await _on_writer(self.store.writer.run(use_case, *args, **kwargs))

    async def read(self, use_case: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`use_case(*args, **kwargs)` on the writer between its batches: it sees only durable writes."""
        return await _on_writer(self.store.writer.read(use_case, *args, **kwargs))

    def close(self) -> None:
        self.store.dispose()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


async def _on_writer(submitted: Awaitable[T]) -> T:
    try:
        return await submitted
    except WriterClosed:
        raise StoreUnavailable("the node is shutting down: try again shortly") from None


def load_schemes() -> Schemes:
    """The shipped classification schemes (plus GSOMIA_EXTRA_DATA), from the lead's catalogue."""
    return load_catalog().schemes
