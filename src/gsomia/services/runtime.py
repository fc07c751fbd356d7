"""The node at run time: one object that the API, the federation layer and the CLI share.

`open_node(DIR)` reads the settings, opens the store (checked to be at this release's schema),
loads the catalogue and the node's key ring (the passphrase from GSOMIA_KEY_PASSPHRASE[_FILE]
unless given), and wires the crypto layer into the shapes the services declared: content sealed at
rest to the node's own key (`sealer`), audit checkpoints signed with the node's key
(`checkpoint_signer`).

The clock is the real UTC clock, unless a test passes one, or the settings name a `clock_start`
(demo and testing only: the node's time starts there when the process starts and runs forward in
real time, so that the 2016 episode can be replayed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from gsomia.config import Settings, load_settings
from gsomia.crypto import (
    CryptoError,
    KeyRing,
    RingCheckpointSigner,
    RingSealer,
    init_keystore,
    load_keyring_at,
    passphrase_from_env,
)
from gsomia.data import load_catalog
from gsomia.domain.catalog import Catalog
from gsomia.services import node as node_setup
from gsomia.services.audit_chain import CheckpointSigner
from gsomia.services.context import ContentSealer, NodeContext, utc_now
from gsomia.services.errors import ServiceError, StoreUnavailable
from gsomia.storage.writer import WriterClosed

T = TypeVar("T")


class KeysUnavailable(ServiceError):
    """The node's keys cannot be loaded: no passphrase, a wrong one, missing or badly protected files."""


@dataclass
class Node:
    settings: Settings
    ctx: NodeContext
    catalog: Catalog
    keys: KeyRing
    sealer: ContentSealer  # RingSealer over `keys`: content sealed at rest to the node's own key
    checkpoint_signer: CheckpointSigner

    @property
    def party(self) -> str:
        return self.ctx.party

    async def write(self, use_case: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`use_case(*args, **kwargs)` on the store's writer (storage/writer.py), for callers on an event
        loop: run in one transaction with the writes waiting beside it, answered once that is durable."""
        return await _on_writer(self.ctx.store.writer.run(use_case, *args, **kwargs))

    async def read(self, use_case: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`use_case(*args, **kwargs)` on the writer between its batches: it sees only durable writes."""
        return await _on_writer(self.ctx.store.writer.read(use_case, *args, **kwargs))

    def close(self) -> None:
        node_setup.close(self.ctx)

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


def open_node(data_dir: Path, *, passphrase: bytes | None = None,
              clock: Callable[[], datetime] | None = None) -> Node:
    """The node in `data_dir`, ready for use cases. Raises ConfigError, StoreUnavailable or KeysUnavailable."""
    settings = load_settings(data_dir)
    try:
        keys = load_keyring_at(settings.effective_keys_dir,
                               passphrase=passphrase if passphrase is not None else passphrase_from_env())
    except CryptoError as bad:
        raise KeysUnavailable(f"cannot load the node's keys: {bad.reason}") from None
    if keys.party != settings.party:
        raise KeysUnavailable(f"the keys in {settings.effective_keys_dir} are {keys.party}'s, not {settings.party}'s")
    the_clock = clock or node_clock(settings.clock_start, settings.clock_anchor)
    ctx = replace(node_setup.open_context(settings), clock=the_clock)
    try:
        node_setup.check_database(ctx)
    except BaseException:
        node_setup.close(ctx)
        raise
    return Node(settings=settings, ctx=ctx, catalog=load_catalog(), keys=keys,
                sealer=RingSealer(keys, the_clock), checkpoint_signer=RingCheckpointSigner(keys))


def key_passphrase(passphrase_file: Path | None = None) -> bytes:
    """The key passphrase: from `passphrase_file` if given, else GSOMIA_KEY_PASSPHRASE[_FILE].

    Never from a command-line value (shell history, process listings); KeysUnavailable if there is none,
    so that no key is ever written unencrypted.
    """
    if passphrase_file is None:
        try:
            return passphrase_from_env()
        except CryptoError as bad:
            raise KeysUnavailable(bad.reason) from None
    try:
        value = passphrase_file.read_bytes().rstrip(b"\r\n")
    except OSError as bad:
        raise KeysUnavailable(f"cannot read the passphrase file {passphrase_file}: {bad.strerror}") from None
    if not value:
        raise KeysUnavailable(f"the passphrase file {passphrase_file} is empty")
    return value


def create_keys(settings: Settings, *, passphrase: bytes) -> KeyRing:
    """The node's key store (`gsomia init`): party root (demo), TLS identity, signing and agreement keys."""
    if settings.effective_keys_dir != settings.data_dir / "keys":
        raise KeysUnavailable("the key store is created in DATA/keys; move it after `gsomia init` if need be")
    try:
        return init_keystore(settings.data_dir, settings.party, settings.node_id, passphrase=passphrase)
    except CryptoError as bad:
        raise KeysUnavailable(f"cannot create the node's keys: {bad.reason}") from None


def node_clock(start: datetime | None, anchor: datetime | None = None) -> Callable[[], datetime]:
    """The real UTC clock; with `start` (demo/testing only), one that starts there now and runs forward."""
    if start is None:
        return utc_now
    offset = start - (anchor or utc_now())

    def shifted() -> datetime:
        return utc_now() + offset

    return shifted


__all__ = ["KeysUnavailable", "Node", "create_keys", "key_passphrase", "node_clock", "open_node"]
