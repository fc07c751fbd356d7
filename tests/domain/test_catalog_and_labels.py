"""Schemes, the catalogue (a new party by data alone) and labels (banner, STANAG 4774, canonical bytes)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree

import pytest
from domain_builders import CATALOG, c, held_by, label, request

from gsomia.data import load_catalog
from gsomia.domain.errors import DomainError, UnknownClassification, UnknownParty
from gsomia.domain.labels import STANAG_4774_NS, Label
from gsomia.domain.policy import decide


@pytest.mark.parametrize(("text", "written"), [
    ("KOR:II", "KOR:II"), ("군사II급비밀", "KOR:II"), ("군사I급비밀", "KOR:I"), ("機密", "JPN:KIMITSU"),
    ("極秘", "JPN:GOKUHI"), ("特定秘密", "JPN:TOKUTEI"), ("秘", "JPN:HI"), ("防衛秘密", "JPN:BOEI"),
    ("usa:TS", "USA:TS"),
])
def test_classifications_are_written_party_code_or_native(text: str, written: str) -> None:
    assert str(CATALOG.schemes.parse(text)) == written


@pytest.mark.parametrize(("text", "error"), [("KOR:IV", UnknownClassification), ("FRA:CD", UnknownParty),
                                             ("secret-ish", UnknownClassification)])
def test_unknown_classifications_are_refused(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        CATALOG.schemes.parse(text)


def test_each_scheme_is_ordered_with_codes_markings_romanisation_and_tier() -> None:
    kor = CATALOG.schemes.scheme("KOR")
    assert [lv.code for lv in kor.levels] == ["I", "II", "III"]
    assert [lv.tier.name for lv in kor.levels] == ["TOP_SECRET", "SECRET", "CONFIDENTIAL"]
    assert [lv.code for lv in CATALOG.schemes.scheme("JPN").levels] == ["KIMITSU", "GOKUHI", "TOKUTEI", "HI", "BOEI"]
    assert all(lv.romanisation for p in ("KOR", "JPN", "USA") for lv in CATALOG.schemes.scheme(p).levels)


def test_banner_puts_usa_first_then_alphabetical() -> None:
    item = label(releasable_to=("KOR", "JPN", "USA"))
    assert item.banner(CATALOG.schemes) == "SECRET//REL TO USA, JPN, KOR"
    assert label(releasable_to=("KOR",), classification="KOR:III").banner(CATALOG.schemes) == \
        "CONFIDENTIAL//REL TO KOR"


def test_stanag_4774_structure_and_xml() -> None:
    item = held_by(label(), "JPN")
    data = item.to_stanag4774()
    info = data["ConfidentialityInformation"]
    assert info["PolicyIdentifier"] == "KOR" and info["Classification"] == "KOR:II"
    releasable = next(cat for cat in info["Category"] if cat["TagName"] == "Releasable To")
    assert releasable["Type"] == "PERMISSIVE" and releasable["GenericValue"] == ["USA", "JPN", "KOR"]
    assert data["AlternativeConfidentialityInformation"]["Classification"] == "JPN:GOKUHI"
    root = ElementTree.fromstring(item.to_stanag4774_xml())
    assert root.tag == f"{{{STANAG_4774_NS}}}ConfidentialityLabel"


def test_R4_4_receipt_adds_provider_and_national_marking() -> None:
    received = label().received("KOR", c("JPN:GOKUHI"))
    assert received.dual_marked and received.provider == "KOR"
    assert "極秘" in received.dual_marking(CATALOG.schemes) and "군사II급비밀" in received.dual_marking(CATALOG.schemes)


def test_canonical_bytes_are_deterministic_and_round_trip() -> None:
    item = label(rights_note="KOR MND", topics=frozenset({"dprk-nuclear", "dprk-missile"}))
    same = Label.from_canonical(item.canonical_bytes(), CATALOG.schemes)
    assert same == item and same.canonical_bytes() == item.canonical_bytes()
    assert json.loads(item.canonical_bytes())["topics"] == ["dprk-missile", "dprk-nuclear"]
    with pytest.raises(DomainError):
        Label.from_canonical(b"\xff not a label", CATALOG.schemes)
    with pytest.raises(DomainError):
        Label.from_canonical(b'{"format": "other"}', CATALOG.schemes)


AUS_SCHEME = """
party = "AUS"
name = "Australian Government Security Classification"
[[levels]]
code = "TS"
marking = "TOP SECRET (AUS)"
tier = "TOP_SECRET"
[[levels]]
code = "S"
marking = "SECRET (AUS)"
tier = "SECRET"
"""

AUS_KOR = """
id = "aus-kor-gsomia-2009"
parties = ["AUS", "KOR"]
binding = true
timezone = "+10:00"
highest_tier = "SECRET"
[[equivalence]]
tier = "SECRET"
AUS = ["S"]
KOR = ["II"]
[life]
signed = 2009-01-01
signed_by = ["AUS", "KOR"]
notifications = { AUS = 2009-02-01, KOR = 2009-03-01 }
"""


def test_a_new_party_and_agreement_by_data_alone(tmp_path: Path) -> None:
    (tmp_path / "schemes").mkdir()
    (tmp_path / "agreements").mkdir()
    (tmp_path / "schemes" / "AUS.toml").write_text(AUS_SCHEME)
    (tmp_path / "agreements" / "aus-kor-gsomia-2009.toml").write_text(AUS_KOR)
    catalog = load_catalog(str(tmp_path))
    assert "AUS" in catalog.schemes.parties
    req = request(item=label(releasable_to=("AUS", "KOR")), recipient="AUS",
                  at=datetime(2020, 1, 1, tzinfo=timezone.utc))
    decision = decide(req, catalog)
    assert decision.allowed and decision.agreement == "aus-kor-gsomia-2009"
    early = decide(request(item=label(releasable_to=("AUS",)), recipient="AUS",
                           at=datetime(2009, 2, 15, tzinfo=timezone.utc)), catalog)
    assert not early.allowed and "R21.1" in early.rules   # R21.1: the later notification, 1 March


def test_R21_2_a_binding_agreement_needs_every_signature(tmp_path: Path) -> None:
    (tmp_path / "schemes").mkdir()
    (tmp_path / "agreements").mkdir()
    (tmp_path / "schemes" / "AUS.toml").write_text(AUS_SCHEME)
    unsigned = AUS_KOR.replace('signed_by = ["AUS", "KOR"]', 'signed_by = ["AUS"]')
    (tmp_path / "agreements" / "a.toml").write_text(unsigned)
    with pytest.raises(DomainError, match="R21.2"):
        load_catalog(str(tmp_path))
