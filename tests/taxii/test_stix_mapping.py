"""The STIX 2.1 mapping (services/stix.py), without a node: an item's objects are valid for stix2-validator and
parse with the stix2 library, its label travels in the classification extension, and a POSTed envelope
reads back into the same label fields and content (or is refused with a reason)."""

from __future__ import annotations

from datetime import datetime, timezone

import stix2
from stix2validator import ValidationOptions, validate_instance

from gsomia.domain.parsing import label_from_dict
from gsomia.services import stix
from gsomia.services.context import load_schemes

SCHEMES = load_schemes()
AT = datetime(2026, 12, 7, 3, 0, 0, 123456, tzinfo=timezone.utc)


def label(**changes: object) -> stix.Label:
    fields = {"originator": "KOR", "classification": "KOR:II", "releasable_to": ["USA", "JPN"],
              "topics": ["dprk-missile"], "purpose": "missile warning", **changes}
    return label_from_dict(fields, SCHEMES, AT)


def test_an_items_objects_are_valid_stix() -> None:
    objects = stix.shared_objects(sorted(SCHEMES.parties)) + stix.item_objects(
        stix.ItemView("KOR-00112233445566ff", label(), AT, AT, "발사 보고".encode()), SCHEMES)
    for stix_object in objects:
        result = validate_instance(stix_object, ValidationOptions(version="2.1"))
        assert result.is_valid, [str(e) for e in result.errors]
        assert not result.warnings, [str(w) for w in result.warnings]
    bundle = stix2.parse({"type": "bundle", "id": "bundle--6f9b1f2e-5b2b-4c34-a0c1-6a1d0c1f0a11", "objects": objects},
                         allow_custom=True)
    assert [o.type for o in bundle.objects][-3:] == ["marking-definition", "artifact", "report"]


def test_the_label_is_a_marking_through_the_extension_not_tlp() -> None:
    received = label(national_marking="JPN:HI", provider="USA", originator="USA", classification="USA:C")
    marking, artifact, report = stix.item_objects(stix.ItemView("JPN-0011223344556677", received, AT, AT), SCHEMES)
    extension = marking["extensions"][stix.EXTENSION_ID]
    assert extension["banner"] == "CONFIDENTIAL//REL TO USA, JPN"
    assert (extension["classification"], extension["national_marking"], extension["provider"]) == ("USA:C", "JPN:HI",
                                                                                                   "USA")
    assert extension["releasable_to"] == ["USA", "JPN"] and "definition_type" not in marking
    assert report["object_marking_refs"] == artifact["object_marking_refs"] == [marking["id"]]
    assert "payload_bin" not in artifact  # no content asked for: none given


def test_ids_are_stable_and_a_new_label_is_a_new_marking() -> None:
    first = stix.item_objects(stix.ItemView("KOR-1", label(), AT, AT), SCHEMES)
    again = stix.item_objects(stix.ItemView("KOR-1", label(), AT, AT), SCHEMES)
    other = stix.item_objects(stix.ItemView("KOR-1", label(classification="KOR:III"), AT, AT), SCHEMES)
    assert [o["id"] for o in first] == [o["id"] for o in again]
    assert first[0]["id"] != other[0]["id"] and first[2]["id"] == other[2]["id"]
    assert stix.timestamp(AT) == "2026-12-07T03:00:00.123Z"


def test_an_envelope_reads_back_into_drafts() -> None:
    served = stix.item_objects(stix.ItemView("KOR-2", label(), AT, AT, b"\x00\x01binary"), SCHEMES)
    drafts, refused = stix.drafts_from_envelope(served)
    assert refused == []
    assert drafts[0].content == b"\x00\x01binary" and drafts[0].stix_id == served[2]["id"]
    assert dict(drafts[0].label_fields) == {"classification": "KOR:II", "releasable_to": ["USA", "JPN"],
                                            "topics": ["dprk-missile"], "purpose": "missile warning"}


def test_an_envelope_without_a_classification_is_refused_with_reasons() -> None:
    unmarked = {"type": "report", "spec_version": "2.1", "id": "report--4a9e7c7e-1e8c-4a51-9d38-6d8c1bc7b0a1",
                "created": "2026-12-07T00:00:00.000Z", "modified": "2026-12-07T00:00:00.000Z", "name": "x",
                "published": "2026-12-07T00:00:00.000Z", "object_refs": ["note--1"], "description": "text"}
    tlp = {**unmarked, "id": "report--5b9e7c7e-1e8c-4a51-9d38-6d8c1bc7b0a1",
           "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]}
    indicator = {"type": "indicator", "id": "indicator--6c9e7c7e-1e8c-4a51-9d38-6d8c1bc7b0a1"}
    drafts, refused = stix.drafts_from_envelope([unmarked, tlp, indicator, "not an object"])
    assert drafts == []
    why = {i: message for i, _, message in refused}
    assert "exactly one marking" in why[unmarked["id"]]
    assert "not in the envelope" in why[tlp["id"]]
    assert "accepted only as the marking or the content" in why[indicator["id"]]
    assert "string type and id" in why[""]
