"""A message the partner cannot understand gets one signed refusal, which the sender records as final and
never sends again; a fault on the partner's side is retried, and flagged for the security officer when it
has lasted too long (and still retried)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import cbor2
import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, delivered, outbox, start, stop_all, wait_for

from gsomia.config import load_settings, write_settings
from gsomia.crypto import verify_record
from gsomia.demo.loopback import create_federation
from gsomia.federation import peer_app
from gsomia.services import inbound
from gsomia.services.context import Node
from gsomia.services.exchange_common import new_id
from gsomia.services.messages import KINDS, AuditCheckpointMessage
from gsomia.services.peer_messages import PeerMessage
from gsomia.storage.exchange import PENDING, OutboxMessage
from gsomia.storage.unit_of_work import UnitOfWork

FLAG_AFTER_S = 1.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningNode]]:
    base: Path = tmp_path_factory.mktemp("refusals")
    specs = create_federation(base, passphrase=PASSPHRASE, parties=("KOR", "JPN"))
    kor = specs["KOR"]
    write_settings(load_settings(kor.data).model_copy(update={"delivery_flag_after_s": FLAG_AFTER_S}))
    running = {party: start(spec) for party, spec in specs.items()}
    yield running
    stop_all(running)


class Posts:
    """Every message id the partner's peer endpoint was handed, counted."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def wrap(self, opened: Sequence[inbound.Opened]) -> None:
        with self._lock:
            self.seen.update(m.envelope.id for m in opened if not isinstance(m, inbound.ProtocolError))


@pytest.fixture
def posts(monkeypatch: pytest.MonkeyPatch) -> Posts:
    counted = Posts()
    original = peer_app.open_batch

    def counting(node: Node, batch: Sequence[bytes], tls_party: str | None) -> list[inbound.Opened]:
        opened = original(node, batch, tls_party)
        counted.wrap(opened)
        return opened

    monkeypatch.setattr(peer_app, "open_batch", counting)
    return counted


def _audit(node: RunningNode) -> list[dict[str, object]]:
    listing = node.client("officer").get("/v1/audit/entries", params={"limit": 1000}).json()
    return list(listing["entries"])


def _enqueue_raw(node: RunningNode, kind: str, payload: bytes) -> str:
    """A message written straight into the outbox, as no use case of ours would write it."""
    now = node.node.clock()
    message_id = new_id("msg")
    with node.node.store.unit_of_work() as uow:
        uow.exchange.enqueue(OutboxMessage(message_id, "JPN", kind, None, payload, PENDING, 0, now, now))
    return message_id


MALFORMED = [(kind, cbor2.dumps({})) for kind in sorted(KINDS)] + [
    ("item", cbor2.dumps({"item_ref": 7})),            # a field of the wrong type (and the others missing)
    ("recall", b"\xff not cbor"),
    ("audit-checkpoint", cbor2.dumps([b"a list, not a map"])),
    ("audit-checkpoint", cbor2.dumps({"record": b"", "extra": 1})),  # a field no one defined
    ("no-such-kind", cbor2.dumps({})),
]


def test_each_malformed_message_gets_one_signed_refusal_recorded_as_final(pair: dict[str, RunningNode],
                                                                         posts: Posts) -> None:
    kor, jpn = pair["KOR"], pair["JPN"]
    sent = {_enqueue_raw(kor, kind, payload): kind for kind, payload in MALFORMED}
    for message_id in sent:
        assert wait_for(lambda m=message_id: delivered(kor, m), f"the answer to {message_id}")["state"] == "refused"
    # Something sent after them has gone and been answered: the sender has had every chance to resend them.
    later = _enqueue_raw(kor, "audit-checkpoint", cbor2.dumps({"record": b"not a record"}))
    wait_for(lambda: delivered(kor, later), "a later message")
    assert {m: posts.seen[m] for m in sent} == dict.fromkeys(sent, 1)
    directory = kor.node.partners.directory
    with kor.node.store.unit_of_work(readonly=True) as uow:
        for message_id, kind in sent.items():
            row = uow.exchange.outbox_message(message_id)
            assert row is not None and row.response is not None and row.attempts == 0
            receipt = verify_record(row.response, trusted=directory, expected_type="receipt")
            assert receipt.signer.party == "JPN" and receipt.body["outcome"] == "refused"
            assert receipt.body["rules"] == ["G4"], (kind, receipt.body)
    refusals = [e for e in _audit(jpn) if "G4" in str(e.get("rules"))]
    assert len(refusals) >= len(sent)  # each audited where it was refused


def test_a_fault_at_the_partner_is_retried_flagged_when_it_lasts_then_delivered(
        pair: dict[str, RunningNode], monkeypatch: pytest.MonkeyPatch) -> None:
    kor, jpn = pair["KOR"], pair["JPN"]
    faulty = threading.Event()
    faulty.set()
    handle = inbound.dispatch

    def failing_while_set(node: Node, uow: UnitOfWork, message: PeerMessage, now: datetime) -> object:
        if faulty.is_set() and isinstance(message.body, AuditCheckpointMessage):
            raise RuntimeError("the partner's disk is full")
        return handle(node, uow, message, now)

    monkeypatch.setattr(inbound, "dispatch", failing_while_set)
    message_id = kor.client("officer").post("/v1/audit/checkpoints/exchange")
    assert message_id.status_code == 202
    flagged = wait_for(lambda: [m for m in outbox(kor) if m["kind"] == "audit-checkpoint" and m["flagged_at"]
                                and m["state"] == "pending"], "the failing message flagged", timeout=30)[0]
    assert flagged["attempts"] >= 2 and "500" in flagged["last_error"]
    overdue = [e for e in _audit(kor)
               if e.get("action") == "delivery.overdue" and flagged["message_id"] in str(e.get("reasons"))]
    assert len(overdue) == 1  # flagged once, however often it is retried
    faulty.clear()  # the partner recovers: the flagged message still goes, on its next retry
    assert wait_for(lambda: delivered(kor, flagged["message_id"]), "the flagged message delivered",
                    timeout=60)["state"] == "delivered"
    with jpn.node.store.unit_of_work(readonly=True) as uow:
        assert uow.exchange.seen(flagged["message_id"]) is not None
        kept = uow.exchange.peer_checkpoint_records("KOR")
    assert len(kept) == len(set(kept))  # the faulty attempts left nothing behind at the partner: each kept once
