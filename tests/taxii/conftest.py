"""One real KOR node on loopback ports, serving its API (and so /taxii2/) over TLS in a thread of its own,
and the officials its TAXII tests sign in as (HTTP Basic: official id and personal token)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all

from gsomia.demo.loopback import create_federation
from gsomia.services import officials
from gsomia.services.context import Actor


@pytest.fixture(scope="module")
def kor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    base: Path = tmp_path_factory.mktemp("taxii")
    specs = create_federation(base, passphrase=PASSPHRASE, parties=("KOR",), feed_links=())
    running = {"KOR": start(specs["KOR"])}
    yield running["KOR"]
    stop_all(running)


@pytest.fixture(scope="module")
def logins(kor: RunningNode) -> dict[str, tuple[str, str]]:
    """name → (official id, token): the loopback staff, and a reader with no need-to-know for TISA's scope."""
    node, found = kor.node, {}
    for name in ("releaser", "officer", "chief"):
        token = kor.spec.tokens[name]
        found[name] = (officials.authenticate(node, token).id, token)
    chief = Actor(officials.authenticate(node, kor.spec.tokens["chief"]), "cli-local")
    record = officials.appoint(node, chief, name="KOR logistics reader", clearance="KOR:II",
                               granted=datetime.now(timezone.utc) - timedelta(days=1), expires=None,
                               need_to_know=["logistics"], roles=["reader"], reason="TAXII test")
    issued = officials.issue_token(node, chief, record.official.id, reason="TAXII test")
    found["logistics"] = (record.official.id, issued.token)
    return found


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify` (psf/requests#3829):
    taxii2-client must trust the node's national root as given, not the system's bundle."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
