"""The feed passes on standing consents only (T5), and each to the partners that need it: the third party
it names and the hub that relays to that party. A consent for one item never travels on the feed, and no
other partner learns of a consent (need to know)."""

from __future__ import annotations

import json
from pathlib import Path

from gsomia.crypto import sign_record
from gsomia.demo.loopback import create_federation
from gsomia.feed.peers import consents_message
from gsomia.services.feed_links import FeedConsents
from gsomia.services.runtime import Node, open_node

PASSPHRASE = b"feed consents"


def _consent(node: Node, consent_id: str, item_ref: str | None, topics: list[str] | None, to: str = "JPN") -> bytes:
    at = node.clock()
    return sign_record("consent", {"id": consent_id, "by": "KOR", "to": to, "item_ref": item_ref,
                                   "topics": json.dumps(topics) if topics else None, "until": None,
                                   "granted_at": at.isoformat(), "purpose": "p"}, signer=node.keys, at=at)


def test_T5_only_standing_consents_travel_on_the_feed(tmp_path: Path) -> None:
    spec = create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR", "JPN"))["KOR"]
    with open_node(spec.data, passphrase=PASSPHRASE) as kor:
        consents = FeedConsents(kor)
        standing = _consent(kor, "c-standing", None, ["dprk-missile"])
        for_one_item = _consent(kor, "c-item", "KOR-0123", None)
        assert consents.merge([for_one_item, standing]) == [standing]  # what the links are sent
        assert [c.id for c in consents.held()] == ["c-standing"]


def test_T5_each_partner_hears_of_the_consents_it_needs_only(tmp_path: Path) -> None:
    spec = create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR", "JPN", "USA"))["KOR"]
    with open_node(spec.data, passphrase=PASSPHRASE) as kor:
        consents = FeedConsents(kor)
        to_jpn = _consent(kor, "c-to-jpn", None, ["dprk-missile"])  # relayed to JPN by the US hub (TISA)
        to_usa = _consent(kor, "c-to-usa", None, ["dprk-missile"], to="USA")
        consents.merge([to_jpn, to_usa])
        sent = {party: json.loads(consents_message(consents.needed_by(party)))["consents"]  # what a link says
                for party in ("JPN", "USA")}
        assert sent == {"JPN": [to_jpn.hex()], "USA": [to_jpn.hex(), to_usa.hex()]}
