"""The feed passes on standing consents only (T5): a consent for one item never travels on the feed,
which would tell every partner on it of that item and of the third party it may go to (need to know)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from gsomia.crypto import sign_record
from gsomia.demo.loopback import create_federation
from gsomia.feed.served import NodeFeed
from gsomia.services.partners import load_partners
from gsomia.services.runtime import Node, open_node

PASSPHRASE = b"feed consents"


def _consent(node: Node, consent_id: str, item_ref: str | None, topics: list[str] | None) -> bytes:
    at = node.ctx.clock()
    return sign_record("consent", {"id": consent_id, "by": "KOR", "to": "JPN", "item_ref": item_ref,
                                   "topics": json.dumps(topics) if topics else None, "until": None,
                                   "granted_at": at.isoformat(), "purpose": "p"}, signer=node.keys, at=at)


def test_T5_only_standing_consents_travel_on_the_feed(tmp_path: Path) -> None:
    spec = create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR", "JPN"))["KOR"]
    with open_node(spec.data, passphrase=PASSPHRASE) as kor:
        feed = NodeFeed(kor, load_partners(spec.data), server_context=None, client_context=None)
        try:
            standing = _consent(kor, "c-standing", None, ["dprk-missile"])
            for_one_item = _consent(kor, "c-item", "KOR-0123", None)
            passed_on = asyncio.run(feed._merge([for_one_item, standing]))  # noqa: SLF001 — what a link would send
            assert passed_on == [standing]
            assert [c.id for c in feed.consents()] == ["c-standing"]
        finally:
            feed.store.close()
