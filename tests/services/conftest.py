"""Fixtures for the handling tests: a whole node (settings, migrated store, encrypted keys) and its officials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import Clock
from tests.services.handling_fixtures import PASSPHRASE, TOPIC, Cast, make_node_dir

from gsomia.services import officials
from gsomia.services.context import Actor
from gsomia.services.runtime import Node, open_node


@pytest.fixture
def node(database: tuple[str, str | None], tmp_path: Path) -> Iterator[Node]:
    make_node_dir(tmp_path, database)
    with open_node(tmp_path, passphrase=PASSPHRASE, clock=Clock()) as opened:
        yield opened


@pytest.fixture
def cast(node: Node) -> Cast:
    ctx = node
    record, _ = officials.bootstrap(ctx, name="Kim Security", clearance=None, expires=None)
    officer = Actor(record.official, "test")

    def appoint(name: str, clearance: str, topics: list[str], roles: list[str]) -> Actor:
        made = officials.appoint(ctx, officer, name=name, clearance=clearance, granted=ctx.clock(), expires=None,
                                 need_to_know=topics, roles=roles, reason="test")
        return Actor(made.official, "test")

    return Cast(officer, appoint("Park", "KOR:II", [TOPIC], ["reader"]), appoint("Lee", "KOR:III", [TOPIC], ["reader"]),
                appoint("Choi", "KOR:II", ["dprk-nuclear"], ["reader"]),
                appoint("Kang", "KOR:II", [TOPIC], ["security_officer"]))
