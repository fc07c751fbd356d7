"""Shared fixtures for the feed tests: the shipped catalogue and a label parser over it."""

from __future__ import annotations

import pytest

from gsomia.data import load_catalog
from gsomia.domain.catalog import Catalog
from gsomia.domain.labels import Label
from gsomia.feed.wire import LabelParser

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
