"""`gsomia init` and what every command shares: opening the node, the acting official, clean errors.

`gsomia init` leaves a complete node: data directory (0700), database at the newest schema, key
store in DATA/keys (private keys encrypted under the passphrase from --passphrase-file or
GSOMIA_KEY_PASSPHRASE[_FILE]; without one it refuses, exit 2, rather than write keys in clear),
config file and the bootstrap security officer. Commands that seal, open or sign (`gsomia items
originate|read|copy|destroy|reclassify`) open the whole node with `opened_node` and need the same
passphrase in the environment; the register-keeping commands need only the database (`opened`).

Who acts: with GSOMIA_TOKEN set, the official that token belongs to (via "cli-token"). Without it,
the node's local administrator, i.e. the bootstrap security officer named in the config file
(via "cli-local"): whoever can read the 0700 data directory already holds the node's database and
keys, so this grants nothing new, and every action is still audited under that official's id.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from gsomia.cli.common import print_json as print_json  # re-exported: the node commands print with it
from gsomia.config import CONFIG_FILE, ConfigError, Settings, load_settings, write_settings
from gsomia.domain.errors import DomainError
from gsomia.domain.timeutil import parse_instant
from gsomia.services import officials, runtime
from gsomia.services.context import Actor, Node, load_schemes
from gsomia.services.errors import AuthenticationFailed, InvalidInput, PermissionDenied, StoreUnavailable
from gsomia.services.handling import ContentUnreadable

EXIT_UNAVAILABLE = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
TOKEN_ENV = "GSOMIA_TOKEN"

DataOption = Annotated[Path, typer.Option("--data", envvar="GSOMIA_DATA", help="The node's data directory.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Bad input and refusals become one line and an exit code, never a traceback."""
    try:
        yield
    except (DomainError, InvalidInput, ConfigError, runtime.KeysUnavailable) as bad:
        fail(str(bad))
    except PermissionDenied as refused:
        if len(refused.reasons) > 1 or refused.rules:
            rules = f" ({', '.join(refused.rules)})" if refused.rules else ""
            fail(f"refused{rules}:\n" + "\n".join(f"  - {reason}" for reason in refused.reasons), EXIT_REFUSED)
        fail(f"refused: {refused}", EXIT_REFUSED)
    except AuthenticationFailed as refused:
        fail(f"refused: {refused}", EXIT_REFUSED)
    except (StoreUnavailable, ContentUnreadable) as unavailable:
        fail(str(unavailable), EXIT_UNAVAILABLE)
    except SQLAlchemyError as bad:  # the database went away mid-command: say so, without a traceback
        fail(f"database error: {str(getattr(bad, 'orig', None) or bad).splitlines()[0]}", EXIT_UNAVAILABLE)


def parse_time(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except DomainError as bad:
        fail(f"{what}: {bad}")


@contextmanager
def opened(data: Path) -> Iterator[Node]:
    """The node without its keys: for commands on records only (no passphrase needed)."""
    with clean_errors():
        node = runtime.open_node(data, keys=False)
        try:
            yield node
        finally:
            node.close()


@contextmanager
def opened_node(data: Path) -> Iterator[Node]:
    """The whole node (store, catalogue, keys, sealer, signer), for commands that seal, open or sign."""
    with clean_errors():
        node = runtime.open_node(data)
        try:
            yield node
        finally:
            node.close()


def acting(node: Node) -> Actor:
    token = os.environ.get(TOKEN_ENV)
    if token:
        return Actor(officials.authenticate(node, token, via="cli-token"), "cli-token")
    if not node.settings.local_admin:
        fail(f"set {TOKEN_ENV} to an official's token (no local administrator is configured)", EXIT_REFUSED)
    return Actor(officials.local_admin(node, node.settings.local_admin), "cli-local")


def print_fields(fields: dict[str, object], as_json: bool) -> None:
    """One record: as JSON, or one bold `key: value` line per field."""
    if as_json:
        print_json(fields)
        return
    for key, value in fields.items():
        out.print(f"[bold]{key}[/]: {value}", highlight=False)


def init(
    party: Annotated[str, typer.Option(help="The node's party: KOR, JPN or USA.")],
    name: Annotated[str, typer.Option(help="The node's name, e.g. 'MND Seoul'.")],
    data: DataOption,
    officer_name: Annotated[str, typer.Option(help="The first security officer's name.")] = "Security Officer",
    officer_clearance: Annotated[str | None, typer.Option(help="e.g. KOR:I (default: the top level).")] = None,
    officer_expires: Annotated[str | None, typer.Option(help="Clearance expiry, ISO 8601.")] = None,
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL (default: SQLite in --data).")] = None,
    passphrase_file: Annotated[Path | None, typer.Option(
        help="File holding the key passphrase (default: GSOMIA_KEY_PASSPHRASE or GSOMIA_KEY_PASSPHRASE_FILE).",
    )] = None,
) -> None:
    """Create a node: data directory, database at head, encrypted keys (0700), config, first officer."""
    expires = parse_time(officer_expires, "--officer-expires")
    with clean_errors():
        schemes = load_schemes()
        party = schemes.require_party(party.strip().upper())
        if (data / CONFIG_FILE).exists():
            fail(f"{data / CONFIG_FILE} exists: this directory already holds a node")
        passphrase = runtime.key_passphrase(passphrase_file)  # none: refuse before anything is created
        settings = Settings(party=party, name=name, node_id=f"{party}-{secrets.token_hex(4)}", data_dir=data,
                            database_url=database_url)
        node = runtime.unchecked_node(settings)  # lazy: nothing is created until the first connection
        try:
            # Validate the officer first, so that bad input leaves nothing behind.
            officials.check_bootstrap(node, name=officer_name, clearance=officer_clearance, expires=expires)
            data.mkdir(mode=0o700, parents=True, exist_ok=True)
            ring = runtime.create_keys(settings, passphrase=passphrase)  # DATA/keys, 0700, keys 0600 encrypted
            runtime.create_database(node)
            record, issued = officials.bootstrap(node, name=officer_name, clearance=officer_clearance,
                                                 expires=expires)
        finally:
            node.close()
        write_settings(settings.model_copy(update={"local_admin": record.official.id}))
    out.print(f"node {settings.node_id} ({party}, {name}) created in {data}; signing key {ring.current.kid.hex()}")
    out.print(f"security officer {record.official.id} ({record.official.name}), token shown once:")
    sys.stdout.write(issued.token + "\n")


def migrate(data: DataOption) -> None:
    """Bring the node's database to this release's schema (Alembic; back it up first)."""
    with clean_errors():
        settings = load_settings(data)
        node = runtime.unchecked_node(settings)
        try:
            runtime.create_database(node)
            runtime.check_database(node)
        finally:
            node.close()
    out.print(f"database of {settings.node_id} is at the newest schema")
