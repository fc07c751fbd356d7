"""STANAG 4774 labels read as well as written (domain/stanag4774.py): every label round-trips exactly; a label
that is malformed, hostile, of an unknown policy, with a classification outside its policy's scheme or with a
category this node cannot honour is refused with a message that says which."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
from domain_builders import CATALOG

from gsomia.domain.errors import DomainError
from gsomia.domain.labels import Label
from gsomia.domain.stanag4774 import MAX_LABEL_BYTES, LabelFormatError, read_label, write_label

SCHEMES = CATALOG.schemes
CREATED = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


def kor_label(**changes: object) -> Label:
    label = Label(originator="KOR", policy="KOR", classification=SCHEMES.parse("KOR:II"),
                  releasable_to=frozenset({"KOR", "USA", "JPN"}), topics=frozenset({"dprk-missile", "dprk-nuclear"}),
                  purpose="missile warning", created_at=CREATED, rights_note="no onward release")
    return replace(label, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("label", [
    kor_label(),
    kor_label(releasable_to=frozenset(), topics=frozenset(), rights_note=""),
    # as a recipient keeps it (R4.4): provider named, its own equivalent marking
    kor_label().received("KOR", SCHEMES.parse("JPN:GOKUHI")),
    replace(kor_label(), originator="JPN", policy="JPN", classification=SCHEMES.parse("JPN:TOKUTEI")),
])
def test_every_label_round_trips(label: Label) -> None:
    xml = write_label(label)
    assert xml.startswith("<slab:ConfidentialityLabel") and "urn:nato:stanag:4774" in xml
    assert read_label(xml, SCHEMES) == label
    assert read_label(xml.encode(), SCHEMES) == label


def test_the_label_method_writes_the_same_document() -> None:
    assert kor_label().to_stanag4774_xml() == write_label(kor_label())


def swap(old: str, new: str) -> str:
    xml = write_label(kor_label())
    assert old in xml
    return xml.replace(old, new, 1)


@pytest.mark.parametrize(("xml", "message"), [
    (swap("<slab:PolicyIdentifier>KOR</slab:PolicyIdentifier>", "<slab:PolicyIdentifier>FRA</slab:PolicyIdentifier>"),
     "policy identifier 'FRA' is not a policy this node knows"),
    (swap("KOR:II", "KOR:IV"), "classification 'KOR:IV' is not a level of the KOR policy"),
    (swap("KOR:II", "JPN:HI"), "belongs to JPN, not to the policy KOR"),
    (swap("<slab:PolicyIdentifier>KOR</slab:PolicyIdentifier>", ""), "exactly one PolicyIdentifier"),
    (swap("KOR:II", ""), "Classification is empty"),
    (swap('TagName="Topic" Type="RESTRICTIVE"', 'TagName="Caveat" Type="RESTRICTIVE"'),
     "restrictive category 'Caveat' cannot be honoured"),
    (swap('TagName="Topic" Type="RESTRICTIVE"', 'TagName="Topic" Type="INFORMATIVE"'),
     "category 'Topic' must be RESTRICTIVE"),
    (swap('Type="PERMISSIVE"', 'Type="MANDATORY"'), "not one of PERMISSIVE, RESTRICTIVE, INFORMATIVE"),
    (swap("<slab:GenericValue>USA</slab:GenericValue>", "<slab:GenericValue>FRA</slab:GenericValue>"),
     "Releasable To / Provided By"),
    (swap("2026-11-22T10:00:00", "yesterday"), "CreationDateTime is not an ISO 8601 instant"),
    (swap("ConfidentialityLabel xmlns", "ConfidentialityLabels xmlns").replace(
        "</slab:ConfidentialityLabel>", "</slab:ConfidentialityLabels>"), "not ConfidentialityLabel"),
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "not acceptable XML"),
    ("<slab:ConfidentialityLabel", "not acceptable XML"),
    ('<?xml version="1.0" encoding="UTF-B"?><a/>', "not acceptable XML"),  # found by the fuzzer: LookupError
    ("<a>" + "x" * MAX_LABEL_BYTES + "</a>", "over the"),
])
def test_labels_that_cannot_be_read_or_mapped_are_refused_with_a_reason(xml: str, message: str) -> None:
    with pytest.raises(LabelFormatError, match=message):
        read_label(xml, SCHEMES)


def test_an_informative_category_we_do_not_know_is_ignored_and_the_error_is_a_domain_error() -> None:
    xml = swap('<slab:Category TagName="Purpose"',
               '<slab:Category TagName="Handling" Type="INFORMATIVE"><slab:GenericValue>x</slab:GenericValue>'
               '</slab:Category><slab:Category TagName="Purpose"')
    assert read_label(xml, SCHEMES) == kor_label()
    assert issubclass(LabelFormatError, DomainError)  # a 4xx / exit code 2 at the edges
