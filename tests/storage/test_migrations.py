"""Alembic: empty → head on both backends, and the migrated schema equals the tables the code uses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select

from gsomia.storage import open_engine, upgrade_to_head
from gsomia.storage.migrate import current_revision, downgrade_to, head_revision
from gsomia.storage.tables import items, metadata, taxii_date_added


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


def test_0010_gives_the_items_held_their_date_added_in_creation_order(engine: Engine) -> None:
    """Items held before the TAXII store each get a date_added of their own: their creation instant, or a
    microsecond after the previous item's when several share one."""
    downgrade_to(engine, "0009")
    at = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
    created = {"KOR-c": at, "KOR-a": at, "KOR-b": at + timedelta(microseconds=1), "KOR-d": at + timedelta(seconds=1)}
    with engine.begin() as conn:
        for item_id, when in created.items():
            conn.execute(insert(items).values(
                id=item_id, origin="originated", originator="KOR", classification="KOR:II", releasable_to="JPN",
                topics="[]", purpose="p", label_bytes=b"l", sealed_content=b"s", state="held", custodian="OFF-1",
                location="registry", created_at=when, updated_at=when))
    upgrade_to_head(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(taxii_date_added.c.item_id, taxii_date_added.c.date_added)
                            .order_by(taxii_date_added.c.date_added)).all()
    tick = timedelta(microseconds=1)
    assert [tuple(r) for r in rows] == [("KOR-a", at), ("KOR-c", at + tick), ("KOR-b", at + 2 * tick),
                                        ("KOR-d", at + timedelta(seconds=1))]
