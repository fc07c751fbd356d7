"""Opening a node from its data directory, and creating one (what `gsomia init` needs).

`open_node(DIR)` reads the settings, opens the store (checked to be at this release's schema), loads
the catalogue (the shipped agreements with the node's agreement events applied), the partners of
peers.toml and the node's key ring (the passphrase from GSOMIA_KEY_PASSPHRASE[_FILE] unless given);
`open_node(DIR, keys=False)` leaves the keys out, for what only reads and writes records (the register,
the audit trail): those commands need no passphrase.

The clock is the real UTC clock, unless a test passes one, or the settings name a `clock_start`
(demo and testing only: the node's time starts there when the process starts and runs forward in
real time, so that the 2016 episode can be replayed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gsomia.config import Settings, load_settings
from gsomia.crypto import CryptoError, KeyRing, init_keystore, load_keyring_at, passphrase_from_env
from gsomia.data import load_catalog
from gsomia.services import agreement_events
from gsomia.services.context import Node, utc_now
from gsomia.services.errors import KeysUnavailable, StoreUnavailable
from gsomia.services.live_catalog import LiveCatalog
from gsomia.services.partners import load_partners
from gsomia.storage import open_store, upgrade_to_head
from gsomia.storage.migrate import current_revision, head_revision


def open_node(data_dir: Path, *, passphrase: bytes | None = None, keys: bool = True,
              clock: Callable[[], datetime] | None = None) -> Node:
    """The node in `data_dir`, ready for use cases. Raises ConfigError, PeerConfigError, StoreUnavailable
    or KeysUnavailable."""
    settings = load_settings(data_dir)
    ring = load_keys(settings, passphrase) if keys else None
    partners = load_partners(data_dir)
    node = unchecked_node(settings, clock=clock or node_clock(settings.clock_start, settings.clock_anchor),
                          keyring=ring)
    try:
        check_database(node)
        agreement_events.load(node)  # the catalogue as the node's agreement events make it
    except BaseException:
        node.close()
        raise
    return node.with_partners(partners)


def unchecked_node(settings: Settings, *, clock: Callable[[], datetime] = utc_now,
                   keyring: KeyRing | None = None) -> Node:
    """The node over its store, not yet checked: no connection (and no SQLite file) until first used."""
    store = open_store(settings.effective_database_url, sqlite_synchronous=settings.sqlite_synchronous,
                       schema=settings.database_schema)
    return Node(settings, store, LiveCatalog(load_catalog()), clock, keyring=keyring)


def load_keys(settings: Settings, passphrase: bytes | None = None) -> KeyRing:
    from gsomia.services.hardware_keys import hardware_token

    try:
        ring = load_keyring_at(settings.effective_keys_dir, token=hardware_token(settings),
                               passphrase=passphrase if passphrase is not None else passphrase_from_env())
    except CryptoError as bad:
        raise KeysUnavailable(f"cannot load the node's keys: {bad.reason}") from None
    if ring.party != settings.party:
        raise KeysUnavailable(f"the keys in {settings.effective_keys_dir} are {ring.party}'s, not {settings.party}'s")
    return ring


def create_database(node: Node) -> None:
    """Migrate the node's database to the newest schema (idempotent)."""
    try:
        upgrade_to_head(node.store.engine)
    except SQLAlchemyError as bad:
        raise _unavailable(bad) from None


def check_database(node: Node) -> None:
    """Reachable and at the schema this release expects; else StoreUnavailable saying what to do."""
    try:
        found = current_revision(node.store.engine)
    except SQLAlchemyError as bad:
        raise _unavailable(bad) from None
    wanted = head_revision()
    if found != wanted:
        raise StoreUnavailable(f"the node's database is at schema revision {found or 'none (empty)'}, this gsomia "
                               f"needs {wanted}: run `gsomia migrate --data DIR` (after a backup)")


def schema_revision() -> str | None:
    """The schema revision this release's database is at once migrated (Alembic's head)."""
    return head_revision()


def _unavailable(bad: SQLAlchemyError) -> StoreUnavailable:
    detail = str(bad.orig if isinstance(bad, DBAPIError) else bad).strip().splitlines()[0]
    return StoreUnavailable(f"cannot use the node's database: {detail}")


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


def create_keys(settings: Settings, *, passphrase: bytes, tls_names: tuple[str, ...] = ()) -> KeyRing:
    """The node's key store (`gsomia init`): party root (demo), TLS identity (for localhost and `tls_names`),
    signing and agreement keys."""
    if settings.effective_keys_dir != settings.data_dir / "keys":
        raise KeysUnavailable("the key store is created in DATA/keys; move it after `gsomia init` if need be")
    try:
        return init_keystore(settings.data_dir, settings.party, settings.node_id, passphrase=passphrase,
                             tls_names=tls_names)
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


__all__ = ["KeysUnavailable", "Node", "check_database", "create_database", "create_keys", "key_passphrase",
           "load_keys", "node_clock", "open_node", "schema_revision", "unchecked_node"]
