"""taxii2-client against a running node over TLS on loopback: discovery, collections, adding objects,
paging through a bulk that shares one creation instant (following `next`, then `added_after`), filters,
manifest, versions, a collection refused; every object served validated by stix2-validator."""

from __future__ import annotations

import base64
import ssl
import time
import uuid
from typing import Any

import httpx
import pytest
from stix2validator import ValidationOptions, validate_instance
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages
from tests.federation.harness import RunningNode

from gsomia.services.stix import EXTENSION_ID
from gsomia.services.taxii import collection_id

TAXII = "application/taxii+json;version=2.1"
TISA, KOR_JPN, USA_JPN = "usa-jpn-kor-tisa-2014", "jpn-kor-gsomia-2016", "usa-jpn-gsomia-2007"
BULK = 220
VALIDATED: list[str] = []  # every object id served and validated, across the module


def validated(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    options = ValidationOptions(version="2.1")
    for stix_object in objects:
        result = validate_instance(stix_object, options)
        assert result.is_valid, [str(e) for e in result.errors]
        VALIDATED.append(stix_object["id"])
    return objects


def root(kor: RunningNode, login: tuple[str, str]) -> ApiRoot:
    server = Server(f"{kor.spec.api_url}/taxii2/", user=login[0], password=login[1],
                    verify=str(kor.spec.root_certificate))
    return server.api_roots[0]


def collection_url(kor: RunningNode, agreement: str) -> str:
    return f"{kor.spec.api_url}/taxii2/api/collections/{collection_id(agreement)}/"


def _trusting(kor: RunningNode) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(kor.spec.root_certificate))


def raw(kor: RunningNode, login: tuple[str, str]) -> httpx.Client:
    return httpx.Client(base_url=kor.spec.api_url, verify=_trusting(kor), auth=login,
                        headers={"Accept": TAXII}, timeout=30)


def report(text: str, classification: str = "KOR:II", *, topics: tuple[str, ...] = ("dprk-missile",),
           content: bytes | None = None) -> list[dict[str, Any]]:
    """A report marked with the gsomia classification extension, as a client would write it."""
    marking_id, report_id = f"marking-definition--{uuid.uuid4()}", f"report--{uuid.uuid4()}"
    marking = {"type": "marking-definition", "spec_version": "2.1", "id": marking_id,
               "created": "2026-12-07T00:00:00.000Z", "name": "SECRET//REL TO USA, JPN",
               "extensions": {EXTENSION_ID: {"extension_type": "property-extension", "classification": classification,
                                             "releasable_to": ["USA", "JPN"], "topics": list(topics),
                                             "purpose": "missile warning"}}}
    body = {"type": "report", "spec_version": "2.1", "id": report_id, "created": "2026-12-07T00:00:00.000Z",
            "modified": "2026-12-07T00:00:00.000Z", "name": text, "published": "2026-12-07T00:00:00.000Z",
            "report_types": ["threat-report"], "object_marking_refs": [marking_id]}
    parts = [marking, body]
    if content is None:
        body["description"], body["object_refs"] = text, [marking_id]
    else:
        artifact = {"type": "artifact", "spec_version": "2.1", "id": f"artifact--{uuid.uuid4()}",
                    "mime_type": "application/octet-stream", "payload_bin": base64.b64encode(content).decode()}
        body["object_refs"] = [artifact["id"]]
        parts.append(artifact)
    return parts


def test_discovery_and_collections(kor: RunningNode, logins: dict[str, tuple[str, str]]) -> None:
    server = Server(f"{kor.spec.api_url}/taxii2/", user=logins["releaser"][0], password=logins["releaser"][1],
                    verify=str(kor.spec.root_certificate))
    assert "KOR" in server.title
    api_root = server.api_roots[0]
    assert api_root.versions == [TAXII] and api_root.max_content_length > 16 * 1024 * 1024
    aliases = {c.alias: c for c in api_root.collections}
    # Not USA–JPN: KOR is no party to it. The feed's tracks: read-only.
    assert set(aliases) == {TISA, KOR_JPN, "usa-kor-gsomia-1987", "missile-warning"}
    assert all(c.can_read and c.can_write for a, c in aliases.items() if a != "missile-warning")
    assert USA_JPN not in aliases


def test_adding_objects_originates_items_through_the_policy(kor: RunningNode,
                                                            logins: dict[str, tuple[str, str]]) -> None:
    tisa = Collection(collection_url(kor, TISA), user=logins["releaser"][0], password=logins["releaser"][1],
                      verify=str(kor.spec.root_certificate))
    objects: list[dict[str, Any]] = []
    for n in range(BULK):
        objects += report(f"launch report {n}")
    objects += report("telemetry", content=bytes(range(256)))
    objects += report("above the releaser's clearance", "KOR:I")  # refused by the originate decision
    objects.append({"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}"})
    status = tisa.add_objects({"objects": objects})
    assert status.status == "complete" and status.pending_count == 0
    assert (status.success_count, status.failure_count) == (BULK + 1, 2), status.failures
    refusal = next(f for f in status.failures if "clearance" in f["message"].lower() or "R7.2" in f["message"])
    assert refusal["id"].startswith("report--")
    with kor.node.store.unit_of_work(readonly=True) as uow:
        added = [i for i in uow.items.find(None, 100_000) if i.location == "taxii"]
    assert len(added) == BULK + 1
    assert len({i.created_at for i in added}) == 1  # one envelope, one instant: the bulk shares its creation time
    status.refresh()  # GET status/{id}/
    assert (status.success_count, status.failure_count) == (BULK + 1, 2)


def test_paging_through_the_bulk_by_next(kor: RunningNode, logins: dict[str, tuple[str, str]]) -> None:
    tisa = root(kor, logins["releaser"]).collections
    collection = next(c for c in tisa if c.alias == TISA)
    began = time.perf_counter()
    pages = [page.get("objects", []) for page in as_pages(collection.get_objects, per_request=50)]
    fetched = time.perf_counter() - began
    served = [o for page in pages for o in validated(page)]
    ids = [o["id"] for o in served]
    assert len(pages) > 4 and len(ids) == len(set(ids))
    reports = [o for o in served if o["type"] == "report"]
    assert len(reports) == BULK + 1
    assert sum(o["type"] == "artifact" and "payload_bin" in o for o in served) == BULK + 1
    binary = next(o for o in served if o["type"] == "artifact" and o["mime_type"] == "application/octet-stream")
    assert base64.b64decode(binary["payload_bin"]) == bytes(range(256))
    markings = [o for o in served if o["type"] == "marking-definition"]
    assert all(m["extensions"][EXTENSION_ID]["banner"] == "SECRET//REL TO USA, JPN" for m in markings)
    print(f"\nnext: {len(pages)} pages, {len(ids)} objects in {fetched:.2f} s, all valid for stix2-validator")


def test_paging_through_the_bulk_by_added_after(kor: RunningNode, logins: dict[str, tuple[str, str]]) -> None:
    url = f"/taxii2/api/collections/{collection_id(TISA)}/objects/"
    seen: list[str] = []
    with raw(kor, logins["releaser"]) as client:
        params: dict[str, Any] = {"limit": 40}
        for _ in range(100):  # bounded: about 700 objects at 40 a page
            response = client.get(url, params=params)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == TAXII
            envelope = response.json()
            seen += [o["id"] for o in validated(envelope.get("objects", []))]
            if not envelope["more"]:
                break
            assert response.headers["X-TAXII-Date-Added-First"] < response.headers["X-TAXII-Date-Added-Last"]
            params = {"limit": 40, "added_after": response.headers["X-TAXII-Date-Added-Last"]}
        else:
            pytest.fail("added_after paging did not end")
    assert len(seen) == len(set(seen))
    with raw(kor, logins["releaser"]) as client:
        everything = client.get(url, params={"limit": 1000}).json()["objects"]
    assert seen == [o["id"] for o in everything]
    print(f"\nadded_after: {len(seen)} objects, none twice, none lost")


def test_filters_manifest_object_and_versions(kor: RunningNode, logins: dict[str, tuple[str, str]]) -> None:
    url = f"/taxii2/api/collections/{collection_id(TISA)}"
    with raw(kor, logins["releaser"]) as client:
        reports = client.get(f"{url}/objects/", params={"match[type]": "report", "limit": 1000}).json()["objects"]
        assert len(validated(reports)) == BULK + 1 and {o["type"] for o in reports} == {"report"}
        manifest = client.get(f"{url}/manifest/", params={"match[type]": "report", "limit": 1000})
        records = manifest.json()["objects"]
        assert [r["id"] for r in records] == [o["id"] for o in reports]
        assert all(r["media_type"] == "application/stix+json;version=2.1" for r in records)
        one = reports[7]
        got = client.get(f"{url}/objects/{one['id']}/").json()["objects"]
        assert validated(got) == [one]
        by_version = client.get(f"{url}/objects/", params={"match[id]": one["id"],
                                                           "match[version]": one["modified"]}).json()
        assert by_version["objects"] == [one]
        versions = client.get(f"{url}/objects/{one['id']}/versions/").json()
        assert versions == {"more": False, "versions": [one["modified"]]}
        missing = client.get(f"{url}/objects/report--{uuid.uuid4()}/")
        assert missing.status_code == 404 and missing.json()["http_status"] == "404"
        tampered = client.get(f"{url}/objects/", params={"limit": 5}).json()["next"]
        forged = client.get(f"{url}/objects/", params={"next": tampered[:-2] + "AA"})
        assert forged.status_code == 400 and forged.headers["content-type"] == TAXII
    kor_jpn = f"/taxii2/api/collections/{collection_id(KOR_JPN)}/objects/"
    with raw(kor, logins["releaser"]) as client:
        theirs = client.get(kor_jpn, params={"limit": 5}).json()["next"]
    with raw(kor, logins["logistics"]) as client:  # another official's cursor is no way in
        borrowed = client.get(kor_jpn, params={"next": theirs})
        assert borrowed.status_code == 400 and "another collection, official" in borrowed.json()["description"]


def test_a_collection_the_official_may_not_read_is_refused(kor: RunningNode,
                                                            logins: dict[str, tuple[str, str]]) -> None:
    login = logins["logistics"]  # need-to-know for logistics only: nothing of TISA's scope
    aliases = {c.alias for c in root(kor, login).collections}
    assert TISA not in aliases and KOR_JPN in aliases
    collection = Collection(collection_url(kor, TISA), user=login[0], password=login[1],
                            verify=str(kor.spec.root_certificate))
    assert not collection.can_read
    with pytest.raises(AccessError):
        collection.get_objects()
    with raw(kor, login) as client:
        refused = client.get(f"/taxii2/api/collections/{collection_id(TISA)}/objects/")
        assert refused.status_code == 403 and refused.headers["content-type"] == TAXII
        assert refused.json()["http_status"] == "403" and "R7.2" in refused.json()["details"]["rules"]
        # KOR–JPN is open to this reader, but none of the items is theirs to read: shared objects only.
        open_one = client.get(f"/taxii2/api/collections/{collection_id(KOR_JPN)}/objects/").json()
        assert {o["type"] for o in validated(open_one["objects"])} <= {"identity", "extension-definition"}


def test_authentication(kor: RunningNode, logins: dict[str, tuple[str, str]]) -> None:
    official, token = logins["releaser"]
    with httpx.Client(base_url=kor.spec.api_url, verify=_trusting(kor)) as client:
        assert client.get("/taxii2/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        wrong = client.get("/taxii2/", auth=(official, "not-a-token"))
        assert wrong.status_code == 401 and wrong.json()["http_status"] == "401"
        borrowed = client.get("/taxii2/", auth=(logins["officer"][0], token))
        assert borrowed.status_code == 401
        assert client.get("/taxii2/", auth=(official, token), headers={"Accept": "text/html"}).status_code == 406


def test_every_decision_is_audited(kor: RunningNode) -> None:
    with kor.node.store.unit_of_work(readonly=True) as uow:
        entries = uow.audit.tail(100_000)
    listed = [e for e in entries if e.action in ("taxii.objects", "taxii.manifest")]
    assert len({e.subject for e in listed}) == BULK + 1
    assert all(e.decision == "allow" and e.via == "taxii" and "R7.2" in e.rules for e in listed)
    assert [e.decision for e in entries if e.action == "taxii.collection"] == ["deny"] * 1
    originated = [e.decision for e in entries if e.action == "item.originate" and e.via == "taxii"]
    assert (originated.count("allow"), originated.count("deny")) == (BULK + 1, 1)


def test_a_large_envelope_is_vouched_for_before_it_is_read(kor: RunningNode,
                                                           logins: dict[str, tuple[str, str]]) -> None:
    """The edge reads a body over 64 KiB only for a good credential, HTTP Basic included (edge/limits.py)."""
    url = f"/taxii2/api/collections/{collection_id(KOR_JPN)}/objects/"
    envelope = {"objects": report("a large annex", content=bytes(200_000))}
    headers = {"Content-Type": TAXII}
    with raw(kor, logins["releaser"]) as client:
        added = client.post(url, json=envelope, headers=headers)
        assert added.status_code == 202 and added.json()["success_count"] == 1, added.text
        assert client.post(url, json=envelope, headers={"Content-Type": "application/json"}).status_code == 415
    with raw(kor, (logins["releaser"][0], "gsomia_not-a-token")) as client:
        assert client.post(url, json=envelope, headers=headers).status_code == 401


def test_count_of_validated_objects() -> None:
    assert len(VALIDATED) > 2 * BULK
    print(f"\nstix2-validator: {len(VALIDATED)} served objects validated, {len(set(VALIDATED))} distinct")
