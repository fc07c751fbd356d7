"""Alembic: empty → head on both backends, and the migrated schema equals the tables the code uses."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from gsomia.storage import open_engine, upgrade_to_head
from gsomia.storage.migrate import current_revision, downgrade_to, head_revision
from gsomia.storage.tables import metadata


def test_empty_database_migrates_to_head(database: tuple[str, str | None]) -> None:
    url, schema = database
    engine = open_engine(url, schema=schema)
    try:
        assert current_revision(engine) is None
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision() is not None
        assert set(inspect(engine).get_table_names()) >= {t.name for t in metadata.sorted_tables}
        upgrade_to_head(engine)  # idempotent: a second run is a no-op
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_code(engine: Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diffs == []


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    downgrade_to(engine, "base")
    assert current_revision(engine) is None
    assert not {t.name for t in metadata.sorted_tables} & set(inspect(engine).get_table_names())
    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision()
