"""Storage contract: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from gsomia.domain.officials import Official, OfficialStatus, Role
from gsomia.domain.schemes import Classification
from gsomia.storage import Store
from gsomia.storage.records import (
    AuditEntry,
    Checkpoint,
    ItemEvent,
    ItemRecord,
    OfficialChange,
    OfficialRecord,
    TokenRecord,
)
from gsomia.storage.repositories import RawEntry, stream_raw_entries
from gsomia.storage.tables import GENESIS_HASH

SEOUL = timezone(timedelta(hours=9))
T0 = datetime(2026, 11, 22, 21, 0, 0, 123456, tzinfo=SEOUL)


def _official(official_id: str = "OFF-1") -> OfficialRecord:
    return OfficialRecord(
        Official(party="KOR", clearance=Classification("KOR", "II"), clearance_expires=T0 + timedelta(days=365),
                 need_to_know=frozenset({"nk-missile", "nk-nuclear"}),
                 roles=frozenset({Role.READER, Role.RELEASING_OFFICIAL}), id=official_id, name="이순신"),
        clearance_granted=T0, created_at=T0, updated_at=T0)


def _item(item_id: str = "KOR-1") -> ItemRecord:
    return ItemRecord(
        id=item_id, origin="originated", originator="KOR", classification="KOR:II", national_marking=None,
        releasable_to=("JPN", "KOR", "USA"), topics=("nk-missile",), purpose="warning", label_bytes=b'{"l":1}',
        sealed_content=b"\x00\x01sealed", state="held", custodian="OFF-1", location="vault 3",
        created_at=T0, updated_at=T0)


def test_officials_round_trip_with_aware_times(engine: Engine) -> None:
    store = Store(engine)
    with store.unit_of_work() as uow:
        uow.officials.add(_official())
        uow.officials.add_change(OfficialChange("OFF-1", T0, "OFF-0", "appoint", "why", "{}"))
        uow.officials.add_token(TokenRecord("ab" * 32, "OFF-1", T0, None))
    with store.unit_of_work(readonly=True) as uow:
        got = uow.officials.get("OFF-1")
        assert got == _official()  # equal instants, whatever zone they come back in
        assert got is not None and got.created_at.utcoffset() == timedelta(0)
        assert uow.officials.find(OfficialStatus.ACTIVE) == [got]
        assert uow.officials.find(OfficialStatus.REVOKED) == []
        assert uow.officials.changes("OFF-1")[0].reason == "why"
        assert uow.officials.find_token("ab" * 32) == TokenRecord("ab" * 32, "OFF-1", T0, None)
        assert uow.officials.get("OFF-2") is None
    with store.unit_of_work() as uow:
        assert uow.officials.revoke_tokens("OFF-1", T0) == 1
    with store.unit_of_work(readonly=True) as uow:
        token = uow.officials.find_token("ab" * 32)
        assert token is not None and token.revoked_at == T0


def test_a_failed_unit_of_work_writes_nothing(engine: Engine) -> None:
    store = Store(engine)
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.officials.add(_official())
        raise RuntimeError("boom")
    with store.unit_of_work(readonly=True) as uow:
        assert uow.officials.count() == 0


def test_naive_times_are_refused(engine: Engine) -> None:
    store = Store(engine)
    with pytest.raises(Exception, match="naive"), store.unit_of_work() as uow:
        uow.officials.add(OfficialRecord(_official().official, T0.replace(tzinfo=None), T0, T0))


def test_items_and_their_history(engine: Engine) -> None:
    store = Store(engine)
    with store.unit_of_work() as uow:
        uow.items.add(_item())
        uow.items.add_event(ItemEvent("KOR-1", T0, "OFF-1", "originated", None, "made", None, 1))
        uow.items.set_state("KOR-1", state="released", custodian="OFF-2", location="vault 4",
                            at=T0 + timedelta(hours=1))
        uow.items.add_event(ItemEvent("KOR-1", T0 + timedelta(hours=1), "OFF-1", "released", "JPN", "ok",
                                      b"receipt", 2))
    with store.unit_of_work(readonly=True) as uow:
        got = uow.items.get("KOR-1")
        assert got is not None
        assert (got.state, got.custodian, got.location, got.sealed_content) == (
            "released", "OFF-2", "vault 4", b"\x00\x01sealed")
        assert got.releasable_to == ("JPN", "KOR", "USA") and got.topics == ("nk-missile",)
        assert [e.kind for e in uow.items.events("KOR-1")] == ["originated", "released"]
        assert uow.items.events("KOR-1")[1].receipt == b"receipt"
        assert [i.id for i in uow.items.find(state="released")] == ["KOR-1"]
        assert uow.items.find(state="held") == []
    with store.unit_of_work() as uow:
        uow.items.set_state("KOR-1", state="destroyed", custodian="OFF-2", location="-", at=T0, erase_content=True)
    with store.unit_of_work(readonly=True) as uow:
        got = uow.items.get("KOR-1")
        assert got is not None and got.sealed_content == b""


def _row(seq: int, prev: str) -> RawEntry:
    return (seq, "2026-11-22T12:00:00.000000Z", "OFF-1", "test", "a", None, None, '["R6.f"]', '["한국어 reason"]',
            prev, f"{seq:064x}")


def test_audit_head_moves_with_appends_and_streams_in_order(engine: Engine) -> None:
    store = Store(engine)
    with store.unit_of_work() as uow:
        assert uow.audit.lock_head() == (0, GENESIS_HASH)
        uow.audit.append([_row(1, GENESIS_HASH), _row(2, f"{1:064x}")])
        uow.audit.add_checkpoint(Checkpoint(2, f"{2:064x}", "2026-11-22T12:00:01.000000Z", "k1", b"sig"))
    with store.unit_of_work() as uow:
        assert uow.audit.lock_head() == (2, f"{2:064x}")
        uow.audit.append([_row(3, f"{2:064x}")])
    with store.unit_of_work(readonly=True) as uow:
        assert uow.audit.head() == (3, f"{3:064x}")
        assert [e.seq for e in uow.audit.tail(2)] == [2, 3]
        assert uow.audit.tail(1)[0] == AuditEntry(3, "2026-11-22T12:00:00.000000Z", "OFF-1", "test", "a", None, None,
                                                  ("R6.f",), ("한국어 reason",), f"{2:064x}", f"{3:064x}")
        assert uow.audit.checkpoints()[0].signature == b"sig"
        assert uow.audit.first_seq_since("2026-11-22T12:00:00.000000Z") == 1
        assert uow.audit.first_seq_since("2027-01-01") is None
    batches = list(stream_raw_entries(engine, from_seq=2, batch=1))
    assert [[row[0] for row in batch] for batch in batches] == [[2], [3]]
    assert batches[0][0][8] == '["한국어 reason"]'
