"""The missile-warning collection against a running node over TLS: a sensor's stream posted to the feed is
listed to taxii2-client as valid STIX 2.1 (observed-data with its trajectory, locations), only to officials
the feed's reader gate lets read it, and each stream listed is audited."""

from __future__ import annotations

import ssl
import time
from typing import Any

import httpx
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Server, as_pages
from tests.federation.harness import RunningNode

from gsomia.services.stix_tracks import TRACK_EXTENSION_ID
from gsomia.services.taxii import MISSILE_WARNING

LABEL = {"classification": "KOR:II", "releasable_to": ["USA", "JPN"], "topics": ["dprk-missile"],
         "purpose": "missile warning"}


def track(stream: str, count: int) -> list[dict[str, Any]]:
    now = time.time()
    out: list[dict[str, Any]] = []
    for seq in range(1, count + 1):
        base = {"stream": stream, "seq": seq, "sensor": "KOR-S1", "time": now + seq * 0.05, "stale": now + 600}
        if seq == 1:
            out.append({**base, "kind": "launch", "point": {"lat": 39.0, "lon": 125.7, "alt_m": 0},
                        "error": {"ce_m": 500, "le_m": 200}})
        elif seq == 3:
            out.append({**base, "kind": "impact", "point": {"lat": 40.5, "lon": 135.0, "alt_m": 0},
                        "error": {"ce_m": 20_000}, "impact_time": now + 600})
        else:
            out.append({**base, "kind": "update", "position": {"lat": 39.0 + seq / 100, "lon": 126 + seq / 10,
                                                                "alt_m": 1000.0 * seq},
                        "velocity": {"east": 2000.0, "north": 100.0, "up": 500.0}})
    return out


def listed(kor: RunningNode, login: tuple[str, str]) -> list[dict[str, Any]]:
    server = Server(f"{kor.spec.api_url}/taxii2/", user=login[0], password=login[1],
                    verify=str(kor.spec.root_certificate))
    collection = next(c for c in server.api_roots[0].collections if c.alias == MISSILE_WARNING)
    assert collection.can_read and not collection.can_write
    return [o for page in as_pages(collection.get_objects, per_request=7) for o in page.get("objects", [])]


def test_tracks_are_listed_as_valid_stix_to_those_who_may_read_them(kor: RunningNode,
                                                                     logins: dict[str, tuple[str, str]]) -> None:
    context = ssl.create_default_context(cafile=str(kor.spec.root_certificate))
    with httpx.Client(base_url=kor.spec.api_url, verify=context,
                      headers={"authorization": f"Bearer {logins['releaser'][1]}"}) as client:
        for stream in ("KOR-S1-TAXII-1", "KOR-S1-TAXII-2"):
            posted = client.post("/v1/feed/tracks", json={"label": LABEL, "messages": track(stream, 12)})
            assert posted.status_code in (200, 201, 202), posted.text
    objects = listed(kor, logins["releaser"])
    for stix_object in objects:
        result = validate_instance(stix_object, ValidationOptions(version="2.1"))
        assert result.is_valid, [str(e) for e in result.errors]
    observed = {o["extensions"][TRACK_EXTENSION_ID]["stream"]: o for o in objects if o["type"] == "observed-data"}
    assert set(observed) == {"KOR-S1-TAXII-1", "KOR-S1-TAXII-2"}
    one = observed["KOR-S1-TAXII-1"]
    assert one["number_observed"] == 12 and len(one["extensions"][TRACK_EXTENSION_ID]["trajectory"]) == 11
    assert len({o["id"] for o in objects}) == len(objects)
    print(f"\nmissile warning: {len(objects)} objects in pages of 7, all valid for stix2-validator")
    # No need-to-know for dprk-missile: the collection is open to them, no track is.
    assert {o["type"] for o in listed(kor, logins["logistics"])} <= {"identity", "extension-definition"}
    with kor.node.store.unit_of_work(readonly=True) as uow:
        entries = [e for e in uow.audit.tail(100_000) if e.action == "taxii.objects" and e.subject
                   and e.subject.startswith("KOR-S1-TAXII")]
    assert {e.subject for e in entries} == set(observed) and all(e.decision == "allow" for e in entries)
