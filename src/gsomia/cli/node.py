"""What the commands that use a node share: opening it, the acting official, errors as exit codes.

Commands that seal, open or sign (originate, read, copy, destroy, reclassify, release, disclose, consents,
reports, recall, checkpoint exchange) open the whole node (`opened_node`, `session(..., keys=True)`) and need
the key passphrase in GSOMIA_KEY_PASSPHRASE[_FILE]; those that keep records only need the database (`opened`).

Who acts: with GSOMIA_TOKEN set, the official that token belongs to (via "cli-token"). Without it, the
node's local administrator, i.e. the bootstrap security officer named in the config file (via "cli-local"):
whoever can read the 0700 data directory already holds the node's database and keys, so this grants nothing
new, and every action is still audited under that official's id.

Imported by the commands as they run, never by `gsomia --help` (it brings the services and SQLAlchemy).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from sqlalchemy.exc import SQLAlchemyError

from gsomia.cli.options import (
    EXIT_BAD_INPUT,
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    TOKEN_ENV,
)
from gsomia.cli.output import fail
from gsomia.config import ConfigError
from gsomia.domain.errors import DomainError
from gsomia.domain.timeutil import parse_instant
from gsomia.services import officials, runtime
from gsomia.services.context import Actor, Node
from gsomia.services.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StoreUnavailable,
)
from gsomia.services.handling import ContentUnreadable
from gsomia.services.partners import PeerConfigError


@contextmanager
def clean_errors() -> Iterator[None]:
    """Bad input and refusals become one line and an exit code (options.py), never a traceback."""
    try:
        yield
    except NotFound as unknown:
        fail(str(unknown), EXIT_NOT_FOUND)
    except Conflict as conflict:
        fail(str(conflict), EXIT_CONFLICT)
    except (DomainError, InvalidInput, ConfigError, PeerConfigError, runtime.KeysUnavailable) as bad:
        fail(str(bad), EXIT_BAD_INPUT)
    except PermissionDenied as refused:
        refuse(refused.rules, refused.reasons, str(refused))
    except AuthenticationFailed as refused:
        fail(f"refused: {refused}", EXIT_REFUSED)
    except (StoreUnavailable, ContentUnreadable) as unavailable:
        fail(str(unavailable), EXIT_UNAVAILABLE)
    except SQLAlchemyError as bad:  # the database went away mid-command: say so, without a traceback
        fail(f"database error: {str(getattr(bad, 'orig', None) or bad).splitlines()[0]}", EXIT_UNAVAILABLE)


def refuse(rules: Sequence[str], reasons: Sequence[str], message: str) -> NoReturn:
    """A refusal with its rules and reasons, exit 3."""
    if len(reasons) > 1 or rules:
        cited = f" ({', '.join(rules)})" if rules else ""
        fail(f"refused{cited}:\n" + "\n".join(f"  - {reason}" for reason in reasons), EXIT_REFUSED)
    fail(f"refused: {message}", EXIT_REFUSED)


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


@contextmanager
def session(data: Path, *, keys: bool = False) -> Iterator[tuple[Node, Actor]]:
    """The node (with its keys if `keys`) and the official acting on it; every error an exit code."""
    with opened_node(data) if keys else opened(data) as node, clean_errors():
        yield node, acting(node)


def acting(node: Node) -> Actor:
    token = os.environ.get(TOKEN_ENV)
    if token:
        return Actor(officials.authenticate(node, token, via="cli-token"), "cli-token")
    if not node.settings.local_admin:
        fail(f"set {TOKEN_ENV} to an official's token (no local administrator is configured)", EXIT_REFUSED)
    return Actor(officials.local_admin(node, node.settings.local_admin), "cli-local")
