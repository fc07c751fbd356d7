"""Faults: a partner down then back, duplicated and replayed messages, certificates of unknown or wrong
parties, a tampered envelope, a path no agreement in force allows. Nothing lost, nothing duplicated,
every refusal audited on the side that refused."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from tests.federation.harness import (
    PASSPHRASE,
    RunningNode,
    delivered,
    forged_release,
    items_of,
    originate,
    start,
    stop_all,
    wait_for,
)

from gsomia.crypto import build_loopback_pki
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.federation.sender import CONTENT_TYPE, PEER_PATH, Sender
from gsomia.node import NodeTLS
from gsomia.services.exchange_common import enqueue
from gsomia.services.messages import AuditCheckpointMessage, ItemMessage, decode, encode
from gsomia.services.partners import Partners, load_partners
from gsomia.services.peer_messages import sign_message
from gsomia.storage.exchange import PENDING, OutboxMessage


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, LoopbackNode], dict[str, RunningNode]]]:
    base: Path = tmp_path_factory.mktemp("faults")
    specs = create_federation(base, passphrase=PASSPHRASE, parties=("KOR", "JPN", "USA"))
    running = {party: start(spec) for party, spec in specs.items()}
    yield specs, running
    stop_all(running)


def _post(sender: RunningNode, to: RunningNode, data: bytes, context: ssl.SSLContext | None = None) -> httpx.Response:
    context = context or NodeTLS.of(sender.node, PASSPHRASE).client
    with httpx.Client(verify=context, timeout=10) as client:
        return client.post(to.spec.peer_url + PEER_PATH, content=data, headers={"content-type": CONTENT_TYPE})


def _audit_actions(node: RunningNode) -> list[dict[str, object]]:
    listing = node.client("officer").get("/v1/audit/entries", params={"limit": 1000}).json()
    return list(listing if isinstance(listing, list) else listing["entries"])


def test_partner_down_then_back_nothing_lost_nothing_duplicated(pair: tuple[dict, dict]) -> None:
    specs, nodes = pair
    kor = nodes["KOR"]
    jpn = nodes["JPN"]
    jpn.signal_stop()
    jpn.join()
    item_id = originate(kor, "sent while JPN is down")
    released = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN"})
    assert released.status_code == 202
    message_id = released.json()["message_id"]
    wait_for(lambda: [m for m in kor.client("officer").get("/v1/outbox").json()
                      if m["message_id"] == message_id and m["attempts"] >= 2], "failed attempts")
    nodes["JPN"] = start(specs["JPN"])
    assert wait_for(lambda: delivered(kor, message_id), "delivery after restart", timeout=40)["state"] == "delivered"
    held = [i for i in items_of(nodes["JPN"]) if i.get("origin_ref") == item_id]
    assert len(held) == 1


def test_a_duplicate_gets_the_same_answer_and_a_stale_message_is_refused(pair: tuple[dict, dict]) -> None:
    _, nodes = pair
    kor, jpn = nodes["KOR"], nodes["JPN"]
    now = kor.node.clock()
    with kor.node.store.unit_of_work() as uow:
        message_id = enqueue(uow, now, "JPN", AuditCheckpointMessage(b"not a record"))
        message = uow.exchange.outbox_message(message_id)
    assert message is not None
    signed = sign_message(kor.node.keys, message.message_id, message.kind, "JPN", message.payload, now)
    first, second = _post(kor, jpn, signed), _post(kor, jpn, signed)
    assert first.status_code == second.status_code == 200 and first.content == second.content
    old = sign_message(kor.node.keys, "msg-replayed-0001", "audit-checkpoint", "JPN", message.payload,
                       now - timedelta(minutes=30))
    replayed = _post(kor, jpn, old)
    assert replayed.status_code == 409
    assert any("replay" in str(e.get("reasons")) for e in _audit_actions(jpn))


def test_unknown_and_wrong_party_certificates_are_refused(pair: tuple[dict, dict], tmp_path: Path) -> None:
    _, nodes = pair
    kor, jpn, usa = nodes["KOR"], nodes["JPN"], nodes["USA"]
    stranger = build_loopback_pki(("KOR",))["KOR"]
    files = stranger.tls.write(tmp_path, b"stranger")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_cert_chain(files.certificate, files.key, password=b"stranger")
    context.load_verify_locations(cadata=load_partners(kor.spec.data).roots_bundle().decode())
    signed = sign_message(kor.node.keys, "msg-stranger-0001", "audit-checkpoint", "JPN",
                          encode(AuditCheckpointMessage(b"")), kor.node.clock())
    with pytest.raises((httpx.HTTPError, ssl.SSLError, OSError)):
        _post(kor, jpn, signed, context)  # a certificate from no partner's root: the handshake fails
    # USA's genuine certificate carrying a message KOR signed: the TLS peer is not the signer.
    wrong = _post(usa, jpn, signed)
    assert wrong.status_code == 403
    assert any("arrived over USA" in str(e.get("reasons")) for e in _audit_actions(jpn))


def test_a_server_whose_certificate_is_not_the_pinned_one_is_sent_nothing(pair: tuple[dict, dict]) -> None:
    """JPN's address leads to USA's node: its certificate chains to a partner's root, so TLS alone would
    accept it, but it is not JPN's pinned one; the sender refuses it as it connects, before sending."""
    _, nodes = pair
    kor, usa = nodes["KOR"], nodes["USA"]
    partners = load_partners(kor.spec.data)
    misdirected = Partners({**partners.by_party, "JPN": replace(partners.by_party["JPN"], url=usa.spec.peer_url)})
    sender = Sender(kor.node.with_partners(misdirected), NodeTLS.of(kor.node, PASSPHRASE).client)
    now = kor.node.clock()
    message = OutboxMessage("msg-misdirected-0001", "JPN", "audit-checkpoint", None,
                            encode(AuditCheckpointMessage(b"")), PENDING, 0, now, now)
    heard_before = len(_audit_actions(usa))

    async def post() -> list[str | bytes]:
        try:
            return await sender._post("JPN", [message])  # noqa: SLF001 — the sender's one POST
        finally:
            await sender.close()
            await asyncio.sleep(0.25)  # the refused connection's TLS shutdown ends on this loop (aiohttp's advice)

    assert asyncio.run(post()) == ["JPN's TLS certificate is not the pinned one"]
    assert len(_audit_actions(usa)) == heard_before  # USA's node received nothing to refuse


def test_a_tampered_envelope_is_refused_and_audited(pair: tuple[dict, dict]) -> None:
    _, nodes = pair
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item_id = originate(kor, "to be tampered with")
    released = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN"})
    message_id = released.json()["message_id"]
    wait_for(lambda: delivered(kor, message_id), "the genuine delivery")
    with kor.node.store.unit_of_work(readonly=True) as uow:
        original = uow.exchange.outbox_message(message_id)
    assert original is not None
    sent = decode("item", original.payload)
    assert isinstance(sent, ItemMessage)
    envelope = bytearray(sent.envelope)
    envelope[len(envelope) // 2] ^= 0x01
    tampered = encode(replace(sent, envelope=bytes(envelope)))
    signed = sign_message(kor.node.keys, "msg-tampered-0001", "item", "JPN", tampered, kor.node.clock())
    answer = _post(kor, jpn, signed)
    assert answer.status_code == 200  # answered with a signed refusal, not stored
    assert len([i for i in items_of(jpn) if i.get("origin_ref") == item_id]) == 1
    assert any(e.get("action") == "item.receive" and "envelope" in str(e.get("reasons")) for e in _audit_actions(jpn))


def test_the_receiver_decides_for_itself_an_item_not_releasable_to_it(pair: tuple[dict, dict]) -> None:
    _, nodes = pair
    kor, jpn = nodes["KOR"], nodes["JPN"]
    created = kor.client("releaser").post("/v1/items", json={
        "classification": "KOR:II", "releasable_to": ["USA", "KOR"], "topics": ["dprk-missile"],
        "purpose": "missile warning", "content_text": "not for JPN"})
    item_id = created.json()["id"]
    assert _post(kor, jpn, forged_release(kor, item_id, "JPN")).status_code == 200  # a signed refusal
    assert not [i for i in items_of(jpn) if i.get("origin_ref") == item_id]
    refusals = [e for e in _audit_actions(jpn) if e.get("action") == "item.receive" and e.get("decision") == "deny"]
    assert refusals and "G1" in str(refusals[-1].get("rules"))


def test_R6_a_a_third_party_refuses_a_disclosure_without_the_originators_consent(pair: tuple[dict, dict]) -> None:
    """JPN's node bypasses its own policy and pushes KOR's item to USA: USA's node refuses it by itself."""
    from dataclasses import replace as replace_label

    from gsomia.crypto import seal
    from gsomia.domain.labels import Label

    _, nodes = pair
    kor, jpn, usa = nodes["KOR"], nodes["JPN"], nodes["USA"]
    item_id = originate(kor, "for JPN only")
    released = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN"})
    wait_for(lambda: delivered(kor, released.json()["message_id"]), "the release")
    held = wait_for(lambda: [i for i in items_of(jpn) if i.get("origin_ref") == item_id], "JPN's copy")[0]
    with jpn.node.store.unit_of_work(readonly=True) as uow:
        record = uow.items.get(held["id"])
    assert record is not None
    label = Label.from_canonical(record.label_bytes, jpn.node.catalog.schemes)
    original = replace_label(label, provider=None, national_marking=None).canonical_bytes()
    plaintext = jpn.node.sealer.open(record.label_bytes, record.sealed_content)
    envelope = seal(plaintext, label=original, sender=jpn.node.keys,
                    recipients=[load_partners(jpn.spec.data).by_party["USA"].keys], at=jpn.node.clock())
    payload = encode(ItemMessage(item_id, "KOR", envelope, "USA", None, (), ("KOR", "JPN"), disclosed_by="JPN"))
    signed = sign_message(jpn.node.keys, "msg-undisclosable-0001", "item", "USA", payload, jpn.node.clock())
    assert _post(jpn, usa, signed).status_code == 200  # answered with a signed refusal
    assert not [i for i in items_of(usa) if i.get("origin_ref") == item_id]
    refusals = [e for e in _audit_actions(usa) if e.get("action") == "item.receive" and "R6.a" in str(e.get("rules"))]
    assert refusals
