"""Alembic environment: always given a live connection by `gsomia.storage.migrate` (no ini file)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from gsomia.storage.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through gsomia.storage.migrate, which passes a connection")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
