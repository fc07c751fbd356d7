from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all

from gsomia.demo.loopback import LoopbackNode, create_federation


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LoopbackNode]:
    base: Path = tmp_path_factory.mktemp("federation")
    return create_federation(base, passphrase=PASSPHRASE)


@pytest.fixture(scope="module")
def nodes(specs: dict[str, LoopbackNode]) -> Iterator[dict[str, RunningNode]]:
    running = {party: start(spec) for party, spec in specs.items()}
    yield running
    stop_all(running)
