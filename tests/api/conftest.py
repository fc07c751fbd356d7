"""Fixtures: a real KOR node in a temporary directory, its team of officials with API tokens, and a
TestClient over `create_app(node)`. One node per test module: building keys is the slow part."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.api.helpers import Team, make_node

from gsomia.api import create_app
from gsomia.services.context import Node


@pytest.fixture(scope="module")
def node_and_team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Team]]:
    node, team = make_node(tmp_path_factory.mktemp("node"))
    yield node, team
    node.close()


@pytest.fixture(scope="module")
def node(node_and_team: tuple[Node, Team]) -> Node:
    return node_and_team[0]


@pytest.fixture(scope="module")
def team(node_and_team: tuple[Node, Team]) -> Team:
    return node_and_team[1]


@pytest.fixture(scope="module")
def client(node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as made:
        yield made
