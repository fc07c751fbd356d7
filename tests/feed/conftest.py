"""Shared fixtures for the feed tests: the shipped catalogue, a label parser over it, the replay store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gsomia.data import load_catalog
from gsomia.domain.catalog import Catalog
from gsomia.domain.labels import Label
from gsomia.feed.wire import LabelParser
from gsomia.storage import open_engine, upgrade_to_head
from gsomia.storage.feed import ReplayStore, open_replay_file, replay_store_in

from .helpers import make_label


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def parse_label(catalog: Catalog) -> LabelParser:
    return lambda data: Label.from_canonical(data, catalog.schemes)


@pytest.fixture
def kor_label() -> Label:
    return make_label()


@pytest.fixture
def open_replay_store(database: tuple[str, str | None], tmp_path: Path) -> Iterator[Callable[[], ReplayStore]]:
    """Opens the feed's replay store as a node does, each call afresh (a restart): a file of its own beside
    a SQLite node's database, the node's own schema on PostgreSQL."""
    url, schema = database
    if url.startswith("sqlite"):
        yield lambda: open_replay_file(tmp_path / "feed-replay.db")
        return
    engine = open_engine(url, schema=schema)
    upgrade_to_head(engine)
    yield lambda: replay_store_in(engine)
    engine.dispose()
