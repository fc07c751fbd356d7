"""Signed records that travel with items count only when signed by the party they speak for (R6.a, T5)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from gsomia.crypto import KeyDirectory, KeyRing, NodeKeys, sign_record
from gsomia.data import load_catalog
from gsomia.domain.consents import Consent
from gsomia.domain.parsing import label_from_dict
from gsomia.services.exchange_common import GrantedConsents, consents_from_records

AT = datetime(2026, 1, 5, tzinfo=timezone.utc)


def _consent(by: str, signer: NodeKeys) -> bytes:
    return sign_record("consent", {"id": "c1", "by": by, "to": "USA", "item_ref": "KOR-1", "topics": None,
                                   "until": None, "granted_at": AT.isoformat(), "purpose": "p"},
                       signer=KeyRing([signer]), at=AT)


def test_R6_a_a_consent_signed_by_its_originator_counts() -> None:
    kor = NodeKeys.generate("KOR", "kor-node")
    consents = consents_from_records([_consent("KOR", kor)], KeyDirectory([kor.public]))
    assert [(c.by, c.to, c.item_id) for c in consents] == [("KOR", "USA", "KOR-1")]


def test_R6_a_a_holder_cannot_forge_the_originators_consent() -> None:
    kor, jpn = NodeKeys.generate("KOR", "kor-node"), NodeKeys.generate("JPN", "jpn-node")
    forged = _consent("KOR", jpn)  # JPN's genuine signature over a consent that claims to be KOR's
    assert consents_from_records([forged], KeyDirectory([kor.public, jpn.public])) == ()


def test_an_unverifiable_consent_counts_for_nothing() -> None:
    kor = NodeKeys.generate("KOR", "kor-node")
    assert consents_from_records([b"\xa0", json.dumps({"by": "KOR"}).encode()], KeyDirectory([kor.public])) == ()


def test_R6_a_only_the_consents_that_cover_an_item_travel_with_it() -> None:
    """The recipient gets the originator's consents for this item (to any third party), never those
    about other items or topics, which it has no need to know of."""
    label = label_from_dict({"originator": "KOR", "classification": "KOR:II", "releasable_to": ["JPN", "USA"],
                             "topics": ["dprk-missile"], "purpose": "missile warning"}, load_catalog().schemes, AT)
    this_item = Consent("KOR", "USA", item_id="KOR-1", granted_at=AT)
    standing = Consent("KOR", "JPN", topics=frozenset({"dprk-missile", "ballistic"}), granted_at=AT)
    other_item = Consent("KOR", "USA", item_id="KOR-2", granted_at=AT)
    other_topic = Consent("KOR", "USA", topics=frozenset({"naval"}), granted_at=AT)
    expired = Consent("KOR", "USA", item_id="KOR-1", granted_at=AT, until=AT)
    granted = GrantedConsents((this_item, standing, other_item, other_topic, expired),
                              tuple((c, f"record-{n}".encode()) for n, c in enumerate(
                                  (this_item, standing, other_item, other_topic, expired))))
    assert granted.covering(label, "KOR-1", AT) == (b"record-0", b"record-1")
    assert granted.covering(label, "KOR-9", AT) == (b"record-1",)
    assert len(granted.signed) == 5
    assert granted.standing == [b"record-1", b"record-3"]  # the feed's: by topic, never for one item
