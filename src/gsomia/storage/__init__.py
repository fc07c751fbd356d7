"""Storage: SQLAlchemy Core tables, repositories, unit of work, Alembic migrations (SQLite / PostgreSQL)."""

from gsomia.storage.engine import open_engine
from gsomia.storage.migrate import upgrade_to_head
from gsomia.storage.unit_of_work import Store, UnitOfWork, open_store

__all__ = ["Store", "UnitOfWork", "open_engine", "open_store", "upgrade_to_head"]
