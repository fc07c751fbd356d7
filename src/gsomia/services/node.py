"""Opening a node's store from its settings, and creating its database (what `gsomia init` needs)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gsomia.config import Settings
from gsomia.services.context import NodeContext, load_schemes
from gsomia.services.errors import StoreUnavailable
from gsomia.storage import open_store, upgrade_to_head
from gsomia.storage.migrate import current_revision, head_revision


def open_context(settings: Settings) -> NodeContext:
    """Lazy: no connection (and no SQLite file) until the first unit of work."""
    store = open_store(settings.effective_database_url, sqlite_synchronous=settings.sqlite_synchronous,
                       schema=settings.database_schema)
    return NodeContext(store, settings.party, load_schemes())


def create_database(ctx: NodeContext) -> None:
    """Migrate the node's database to the newest schema (idempotent)."""
    try:
        upgrade_to_head(ctx.store.engine)
    except SQLAlchemyError as bad:
        raise _unavailable(bad) from None


def check_database(ctx: NodeContext) -> None:
    """Reachable and at the schema this release expects; else StoreUnavailable saying what to do."""
    try:
        found = current_revision(ctx.store.engine)
    except SQLAlchemyError as bad:
        raise _unavailable(bad) from None
    wanted = head_revision()
    if found != wanted:
        raise StoreUnavailable(f"the node's database is at schema revision {found or 'none (empty)'}, this gsomia "
                               f"needs {wanted}: run `gsomia migrate --data DIR` (after a backup)")


def _unavailable(bad: SQLAlchemyError) -> StoreUnavailable:
    detail = str(bad.orig if isinstance(bad, DBAPIError) else bad).strip().splitlines()[0]
    return StoreUnavailable(f"cannot use the node's database: {detail}")


def close(ctx: NodeContext) -> None:
    ctx.store.dispose()
