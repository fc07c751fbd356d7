"""Helpers for the handling tests: a node directory on each backend, labels, what SQL can still reach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from gsomia.config import Settings, write_settings
from gsomia.crypto import init_keystore
from gsomia.domain.labels import Label
from gsomia.domain.schemes import Classification
from gsomia.services import runtime
from gsomia.services.context import Actor, Node
from gsomia.storage.tables import metadata

PASSPHRASE = b"correct horse battery staple"
TOPIC = "dprk-missile"


def label(node: Node, classification: str = "KOR:II", topics: frozenset[str] = frozenset({TOPIC})) -> Label:
    return Label(originator="KOR", policy="KOR", classification=node.schemes.parse(classification),
                 releasable_to=frozenset({"KOR", "JPN", "USA"}), topics=topics, purpose="missile warning",
                 created_at=datetime(2026, 11, 22, tzinfo=timezone.utc))


@dataclass(frozen=True)
class Cast:
    """The officials of a KOR node, each as an Actor."""

    officer: Actor    # bootstrap security officer: top clearance, no need-to-know
    reader: Actor     # KOR:II, need-to-know dprk-missile
    low: Actor        # KOR:III only
    outsider: Actor   # KOR:II, but need-to-know for another topic
    keeper: Actor     # security officer, KOR:II, need-to-know dprk-missile


def make_node_dir(data: Path, database: tuple[str, str | None]) -> Settings:
    url, schema = database
    settings = Settings(party="KOR", name="MND Seoul", node_id="KOR-test", data_dir=data, database_url=url,
                        database_schema=schema)
    data.mkdir(parents=True, exist_ok=True)
    write_settings(settings)
    init_keystore(data, "KOR", "KOR-test", passphrase=PASSPHRASE)
    with runtime.unchecked_node(settings) as fresh:
        runtime.create_database(fresh)
    return settings


def reachable_bytes(engine: Engine) -> bytes:
    """Every value of every row of every table, as bytes: what SQL can still reach."""
    parts: list[bytes] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        parts.append(bytes(value))
                    elif value is not None:
                        parts.append(str(value).encode())
    return b"\x00".join(parts)


def postgres_pages(engine: Engine, table: str = "items") -> bytes | None:
    """The raw 8 kB pages of `table` and of its TOAST table (pageinspect), dead tuples included; None when
    the extension cannot be had (it needs a superuser, which the test server provides)."""
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect WITH SCHEMA public"))
    except DBAPIError:
        return None
    pages: list[bytes] = []
    with engine.connect() as conn:
        relations = [table]
        toast = conn.execute(text("SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = CAST(:t AS regclass)"
                                  " AND reltoastrelid <> 0"), {"t": table}).scalar()
        relations += [toast] if toast else []
        for relation in relations:
            size = text("SELECT pg_relation_size(CAST(:r AS regclass)) / 8192")
            blocks = conn.execute(size, {"r": relation}).scalar()
            for block in range(int(blocks or 0)):
                pages.append(bytes(conn.execute(text("SELECT public.get_raw_page(:r, :b)"),
                                                {"r": relation, "b": block}).scalar()))
    return b"".join(pages)


def classification(text: str) -> Classification:
    party, _, code = text.partition(":")
    return Classification(party, code)
