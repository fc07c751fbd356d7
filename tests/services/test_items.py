"""The item registry (R6.f): identification, custody, distribution, destruction, each audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import pytest

from gsomia.data import load_catalog
from gsomia.domain.labels import Label
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Request
from gsomia.domain.schemes import Classification
from gsomia.services import audit, items, officials
from gsomia.services.context import Actor, Node
from gsomia.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied

State = Callable[[], dict[str, list[str]]]


class MarkedNotSealed:
    """A stand-in for the crypto layer's sealer: reversible and NOT protective."""

    def seal(self, label_bytes: bytes, plaintext: bytes) -> bytes:
        return b"NOT-SEALED:" + plaintext

    def open(self, label_bytes: bytes, blob: bytes) -> bytes:
        return blob.removeprefix(b"NOT-SEALED:")


@dataclass(frozen=True)
class FakeDecision:
    allowed: bool
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    agreement: str | None = None


LABEL = Label(originator="KOR", policy="KOR", classification=Classification("KOR", "II"),
              releasable_to=frozenset({"KOR", "JPN", "USA"}), topics=frozenset({"nk-missile"}),
              purpose="missile warning", created_at=datetime(2026, 11, 22, tzinfo=timezone.utc))
SEALER = MarkedNotSealed()


def test_originate_release_receipt_copy_custody_destroy(ctx: Node, officer: Actor) -> None:
    item = items.register_originated(ctx, officer, LABEL, b"launch at 0412", SEALER, location="vault 1")
    assert (item.state, item.originator, item.classification, item.custodian) == (
        "held", "KOR", "KOR:II", officer.official.id)
    assert item.label_bytes == LABEL.canonical_bytes() and item.sealed_content != b"launch at 0412"
    released = items.record_release(ctx, officer, item.id, "JPN", FakeDecision(True, ("R4.1",), ("in scope",)))
    assert released.state == "released"
    items.record_receipt(ctx, officer, item.id, "JPN", b"signed receipt")
    with pytest.raises(Conflict):
        items.record_receipt(ctx, officer, item.id, "USA", b"never sent")
    copy = items.record_copy(ctx, officer, item.id, reason="for the watch officer", location="ops room")
    assert copy.derived_from == item.id and copy.label_bytes == item.label_bytes
    deputy = officials.appoint(ctx, officer, name="Deputy", clearance="KOR:II", granted=ctx.clock(), expires=None,
                               need_to_know=[], roles=["releasing_official"], reason="watch").official
    moved = items.transfer_custody(ctx, officer, copy.id, to_official=deputy.id, location="ops safe", reason="shift")
    assert (moved.custodian, moved.location) == (deputy.id, "ops safe")
    gone = items.record_destruction(ctx, officer, copy.id, method="cross-cut shredding", reason="no longer needed")
    assert gone.state == "destroyed" and items.get_item(ctx, officer, copy.id).sealed_content == b""
    with pytest.raises(Conflict, match="destroyed"):
        items.record_release(ctx, officer, copy.id, "USA", FakeDecision(True, (), ()))
    assert [e.kind for e in items.item_history(ctx, officer, item.id)] == ["originated", "released", "receipt",
                                                                          "copied"]
    history = items.item_history(ctx, officer, copy.id)
    assert [e.kind for e in history] == ["copy-of", "custody", "destroyed"]
    entries = {e.seq: e for e in audit.tail(ctx, officer, 50)}
    assert all(e.audit_seq in entries for e in history)  # every state change has its audit entry
    assert entries[history[-1].audit_seq or 0].rules == ("R6.h", "Art.13")
    assert items.open_content(ctx, officer, item.id, SEALER, FakeDecision(True, ("R7.2",), ())) == b"launch at 0412"
    assert {i.id for i in items.list_items(ctx, officer)} == {item.id, copy.id}


def test_a_refused_release_is_audited_and_changes_nothing_else(ctx: Node, officer: Actor) -> None:
    item = items.register_originated(ctx, officer, LABEL, b"x", SEALER, location="vault 1")
    with pytest.raises(PermissionDenied, match="no written consent"):
        items.record_release(ctx, officer, item.id, "USA", FakeDecision(False, ("R6.a",), ("no written consent",)))
    assert items.get_item(ctx, officer, item.id).state == "held"
    refusal = audit.tail(ctx, officer, 1)[0]
    assert (refusal.action, refusal.decision, refusal.rules, refusal.subject) == (
        "item.release", "deny", ("R6.a",), item.id)
    with pytest.raises(PermissionDenied):
        items.open_content(ctx, officer, item.id, SEALER, FakeDecision(False, ("R7.2",), ("no need to know",)))
    assert audit.tail(ctx, officer, 1)[0].decision == "deny"


def test_received_items_must_be_dual_marked(ctx: Node, officer: Actor, db_state: State) -> None:
    jpn = replace(LABEL, originator="JPN", policy="JPN", classification=Classification("JPN", "GOKUHI"))
    before = db_state()
    with pytest.raises(InvalidInput, match="R4.4"):
        items.register_received(ctx, officer, jpn, b"sealed", from_party="JPN", origin_ref="J-1", location="in")
    assert db_state() == before
    dual = jpn.received("JPN", Classification("KOR", "II"))
    got = items.register_received(ctx, officer, dual, b"sealed", from_party="JPN", origin_ref="J-1",
                                  location="inbox", receipt=b"our receipt")
    assert (got.origin, got.received_from, got.national_marking, got.origin_ref) == (
        "received", "JPN", "KOR:II", "J-1")


@pytest.mark.parametrize("call,error", [
    (lambda ctx, a: items.register_originated(ctx, a, replace(LABEL, originator="JPN"), b"", SEALER, location="v"),
     InvalidInput),
    (lambda ctx, a: items.register_originated(ctx, a, replace(LABEL, purpose=" "), b"", SEALER, location="v"),
     InvalidInput),
    (lambda ctx, a: items.record_release(ctx, a, "KOR-missing", "JPN", FakeDecision(True, (), ())), NotFound),
    (lambda ctx, a: items.record_release(ctx, a, "KOR-missing", "XYZ", FakeDecision(True, (), ())), Exception),
    (lambda ctx, a: items.record_destruction(ctx, a, "KOR-missing", method="burn", reason="r"), NotFound),
    (lambda ctx, a: items.record_destruction(ctx, a, "KOR-missing", method="", reason="r"), InvalidInput),
    (lambda ctx, a: items.item_history(ctx, a, "KOR-missing"), NotFound),
], ids=["foreign-originator", "no-purpose", "release-unknown", "unknown-party", "destroy-unknown",
        "no-method", "history-unknown"])
def test_bad_item_input_writes_nothing(ctx: Node, officer: Actor, db_state: State, call: object,
                                       error: type[Exception]) -> None:
    before = db_state()
    with pytest.raises(error):
        call(ctx, officer)  # type: ignore[operator]
    assert db_state() == before


def test_the_policy_decision_is_what_the_audit_keeps(ctx: Node, officer: Actor) -> None:
    releaser = officials.appoint(ctx, officer, name="Releasing Officer", clearance="KOR:II", granted=ctx.clock(),
                                 expires=None, need_to_know=["nk-missile"], roles=["releasing_official"],
                                 reason="release desk").official
    actor = Actor(releaser, "test")
    item = items.register_originated(ctx, actor, LABEL, b"track", SEALER, location="vault 1")
    request = Request(action=Action.RELEASE, at=datetime(2026, 11, 22, 12, tzinfo=timezone.utc), subject=releaser,
                      item=LABEL, recipient="JPN", item_id=item.id, purpose="missile warning")
    decision = decide(request, load_catalog())
    try:
        items.record_release(ctx, actor, item.id, "JPN", decision)
    except PermissionDenied:
        assert not decision.allowed
    entry = audit.tail(ctx, officer, 1)[0]
    assert (entry.decision, entry.rules) == ("allow" if decision.allowed else "deny", decision.rules)
    assert entry.reasons[:len(decision.reasons)] == decision.reasons
    if decision.agreement:
        assert entry.reasons[-1] == f"agreement: {decision.agreement}"
