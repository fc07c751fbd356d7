"""TAXII 2.1 state kept in the store, on SQLite and PostgreSQL: a POST's status is answered by another worker
(another app over the same store) and after a restart, only to the official who posted, and purged by age and
count; each item's date_added is stored, stable across restarts and workers, and never comes before one
already served, even for an item whose creation time is earlier (another worker's clock, a slow transaction)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Clock
from tests.services.handling_fixtures import PASSPHRASE, TOPIC, label, make_node_dir

from gsomia.api import create_app
from gsomia.config import write_settings
from gsomia.services import handling, officials, taxii, taxii_listing
from gsomia.services.context import Actor, Node
from gsomia.services.errors import NotFound
from gsomia.services.runtime import open_node
from gsomia.services.stix import EXTENSION_ID
from gsomia.services.taxii_cursor import Filters, parse_timestamp
from gsomia.services.taxii_listing import listing, stamp_new
from gsomia.storage.taxii import StatusDetail, StatusRecord

TISA = taxii.collection_id("usa-jpn-kor-tisa-2014")
TAXII = "application/taxii+json;version=2.1"


@pytest.fixture
def data_dir(database: tuple[str, str | None], tmp_path: Path) -> Path:
    settings = make_node_dir(tmp_path / "node", database)
    write_settings(settings.model_copy(update={"taxii_status_max": 3}))
    return tmp_path / "node"


@pytest.fixture
def workers(data_dir: Path) -> Iterator[list[Node]]:
    """Open nodes over the same directory and store, as `gsomia serve --workers N` and restarts have them;
    `open_worker()` adds one. Each has its own clock, starting at the same instant."""
    opened: list[Node] = []
    yield opened
    for node in opened:
        node.close()


def open_worker(workers: list[Node], data_dir: Path) -> Node:
    node = open_node(data_dir, passphrase=PASSPHRASE, clock=Clock())
    workers.append(node)
    return node


def staff(node: Node) -> dict[str, tuple[Actor, str]]:
    """name → (actor, token): the bootstrap officer, a releasing official and a reader."""
    record, issued = officials.bootstrap(node, name="Kim Security", clearance=None, expires=None)
    officer = Actor(record.official, "taxii")
    found = {"officer": (officer, issued.token)}
    for name, role in (("releaser", "releasing_official"), ("reader", "reader")):
        made = officials.appoint(node, officer, name=f"Park {name}", clearance="KOR:II", granted=node.clock(),
                                 expires=None, need_to_know=[TOPIC], roles=[role], reason="test")
        token = officials.issue_token(node, officer, made.official.id, reason="test").token
        found[name] = (Actor(made.official, "taxii"), token)
    return found


def report(text: str, classification: str = "KOR:II") -> list[dict[str, Any]]:
    marking_id, report_id = f"marking-definition--{uuid.uuid4()}", f"report--{uuid.uuid4()}"
    marking = {"type": "marking-definition", "spec_version": "2.1", "id": marking_id,
               "created": "2026-12-07T00:00:00.000Z", "name": "SECRET//REL TO USA, JPN",
               "extensions": {EXTENSION_ID: {"extension_type": "property-extension", "classification": classification,
                                             "releasable_to": ["USA", "JPN"], "topics": [TOPIC],
                                             "purpose": "missile warning"}}}
    body = {"type": "report", "spec_version": "2.1", "id": report_id, "created": "2026-12-07T00:00:00.000Z",
            "modified": "2026-12-07T00:00:00.000Z", "name": text, "published": "2026-12-07T00:00:00.000Z",
            "report_types": ["threat-report"], "object_marking_refs": [marking_id], "description": text,
            "object_refs": [marking_id]}
    return [marking, body]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": TAXII}


def test_a_status_posted_on_one_worker_is_read_on_another_by_the_poster_only(workers: list[Node],
                                                                                data_dir: Path) -> None:
    first, second = open_worker(workers, data_dir), open_worker(workers, data_dir)
    team = staff(first)
    envelope = {"objects": report("first") + report("refused", classification="KOR:I")}
    with TestClient(create_app(first)) as one, TestClient(create_app(second)) as other:
        posted = one.post(f"/taxii2/api/collections/{TISA}/objects/", json=envelope,
                          headers={**bearer(team["releaser"][1]), "Content-Type": TAXII})
        assert posted.status_code == 202, posted.text
        done = posted.json()
        assert (done["status"], done["total_count"], done["success_count"], done["failure_count"],
                done["pending_count"], done["pendings"]) == ("complete", 2, 1, 1, 0, [])
        assert done["request_timestamp"].endswith("Z")
        url = f"/taxii2/api/status/{done['id']}/"
        read = other.get(url, headers=bearer(team["releaser"][1]))
        assert read.status_code == 200 and read.headers["content-type"] == TAXII
        assert read.json() == done
        for name in ("reader", "officer"):  # default deny: another official, a security officer included
            refused = other.get(url, headers=bearer(team[name][1]))
            assert refused.status_code == 404 and refused.json()["http_status"] == "404", name
        assert other.get(f"/taxii2/api/status/{uuid.uuid4()}/", headers=bearer(team["releaser"][1])).status_code == 404


def test_a_status_survives_a_restart(workers: list[Node], data_dir: Path) -> None:
    before = open_worker(workers, data_dir)
    releaser = staff(before)["releaser"][0]
    done = taxii.add_objects(before, releaser, TISA, report("kept") + report("and kept"), str(uuid.uuid4()))
    workers.pop().close()
    after = open_worker(workers, data_dir)
    again = taxii.status_of(after, releaser, done.id)
    assert (again.id, again.requested_at, again.status) == (done.id, done.requested_at, "complete")
    assert [(o.stix_id, o.version, o.message) for o in again.successes] == [
        (o.stix_id, o.version, o.message) for o in done.successes]
    assert len(again.successes) == 2 and again.failures == ()


def test_statuses_are_purged_by_count_as_new_ones_are_written(workers: list[Node], data_dir: Path) -> None:
    node = open_worker(workers, data_dir)  # taxii_status_max = 3 (data_dir)
    releaser = staff(node)["releaser"][0]
    posted = [taxii.add_objects(node, releaser, TISA, report(f"r{i}"), str(uuid.uuid4())).id for i in range(5)]
    kept = []
    for status_id in posted:
        try:
            kept.append(taxii.status_of(node, releaser, status_id).id)
        except NotFound:
            pass
    assert kept == posted[-3:]


def test_statuses_are_purged_by_age(workers: list[Node], data_dir: Path) -> None:
    node = open_worker(workers, data_dir)
    day = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with node.store.unit_of_work() as uow:
        for i in range(4):
            uow.taxii.add_status(StatusRecord(f"s{i}", "OFF-1", TISA, day + timedelta(days=i), "complete",
                                              (StatusDetail("report--1", "v", "ok"),), ()))
        assert uow.taxii.purge_statuses(before=day + timedelta(days=2), keep=10) == 2
        assert [uow.taxii.status(f"s{i}") is None for i in range(4)] == [True, True, False, False]
        assert uow.taxii.purge_statuses(before=day, keep=1) == 1
        assert uow.taxii.status("s3") is not None and uow.taxii.status("s2") is None


def _list(node: Node, actor: Actor, after: str | None = None) -> list[tuple[str, str]]:
    page = listing(node, actor, TISA, what="manifest", filters=Filters(), limit=1000, next_token=None,
                   after=parse_timestamp(after) if after else None)
    return [(o.stix_object["id"], o.date_added) for o in page.objects]


def test_date_added_is_stored_and_never_before_one_already_served(workers: list[Node], data_dir: Path) -> None:
    first = open_worker(workers, data_dir)
    team = staff(first)
    releaser, reader = team["releaser"][0], team["reader"][0]
    for _ in range(3):
        handling.originate(first, releaser, label(first), b"track")
    served = _list(first, reader)
    dates = [d for _, d in served]
    assert len(dates) == len(set(dates)) and dates == sorted(dates)  # each its own, in order
    last = dates[-1]

    # Another worker, whose clock is behind: its item's creation time is before `last`.
    second = open_worker(workers, data_dir)
    late = handling.originate(second, releaser, label(second), b"late")
    assert late.created_at < parse_timestamp(last).at
    assert _list(second, reader) == served + _list(second, reader, after=last)  # the same dates, and the new one
    newer = _list(first, reader, after=last)
    assert len(newer) == 3 and all(d > last for _, d in newer)  # a poller sending back the Last header gets it
    with first.store.unit_of_work(readonly=True) as uow:
        stamped = uow.taxii.date_added(late.id)
    assert stamped is not None and newer[0][1].startswith(stamped.strftime("%Y-%m-%dT%H:%M:%S.%f"))

    # After a restart, the same date_added for every object.
    everything = _list(first, reader)
    workers.pop(0).close()
    restarted = open_worker(workers, data_dir)
    assert _list(restarted, reader) == everything
    with restarted.store.unit_of_work(readonly=True) as uow:
        assert uow.taxii.date_added(late.id) == stamped


def test_workers_stamping_at_once_give_each_item_one_date_added_of_its_own(workers: list[Node],
                                                                            data_dir: Path) -> None:
    first, second = open_worker(workers, data_dir), open_worker(workers, data_dir)
    releaser = staff(first)["releaser"][0]
    made = [handling.originate(first, releaser, label(first), b"x").id for _ in range(60)]
    start, failed = threading.Barrier(2), []

    def stamp(node: Node) -> None:
        try:
            start.wait()
            stamp_new(node)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            failed.append(error)

    threads = [threading.Thread(target=stamp, args=(node,)) for node in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    with first.store.unit_of_work(readonly=True) as uow:
        stamped = [uow.taxii.date_added(item_id) for item_id in made]
        assert not uow.taxii.has_unstamped()
    assert None not in stamped and len(set(stamped)) == len(made)
    assert stamped == sorted(stamped)  # in creation order


def test_an_item_stored_long_after_its_creation_instant_is_found_by_the_next_full_look(
        workers: list[Node], data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = open_worker(workers, data_dir)
    team = staff(first)
    releaser, reader = team["releaser"][0], team["reader"][0]
    handling.originate(first, releaser, label(first), b"x")
    last = _list(first, reader)[-1][1]  # the process's first listing: a full look
    behind = Clock()
    behind.now -= timedelta(hours=1)  # a transaction that took an hour, or a clock an hour behind
    second = Node(first.settings, first.store, first.live_catalog, behind, first.keyring, first.partners)
    late = handling.originate(second, releaser, label(first), b"late")
    assert _list(first, reader, after=last) == []  # outside the window of the newest items: not yet
    monkeypatch.setattr(taxii_listing, "FULL_LOOK_S", 0.0)
    found = _list(first, reader, after=last)
    assert len(found) == 3 and all(d > last for _, d in found)
    with first.store.unit_of_work(readonly=True) as uow:
        assert uow.taxii.date_added(late.id) is not None
