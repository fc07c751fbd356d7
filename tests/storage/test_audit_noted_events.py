"""An audit entry appended with the item event that cites it (services/audit_log.append with `events`; on
PostgreSQL one statement writes both and moves the head): the same rows as written one after the other.
Both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from tests.services.test_items import LABEL, SEALER

from gsomia.services import audit, items
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.storage.records import ItemEvent


def test_an_entry_and_its_item_event_are_written_together(ctx: Node, officer: Actor) -> None:
    item = items.register_originated(ctx, officer, LABEL, b"launch at 0412", SEALER, location="vault 1")
    at = datetime(2026, 11, 22, 21, 0, tzinfo=timezone(timedelta(hours=9)))  # stored as UTC, read back as such
    with ctx.store.unit_of_work() as uow:
        who = officer.official.id
        one = append(uow, at, [draft(officer, "test.noted", item.id, rules=("R6.f",), reasons=("noted",))],
                     lambda seq: [ItemEvent(item.id, at, who, "receipt", "JPN", "noted", b"\x00r", seq)])
        two = append(uow, at, [draft(officer, "test.plain", item.id)])
        three = append(uow, at, [draft(officer, "test.many", item.id), draft(officer, "test.many", item.id)],
                       lambda first: [ItemEvent(item.id, at, officer.official.id, "custody", None, f"e{s}", None, s)
                                      for s in (first, first + 1)])
    assert (two.first_seq, three.first_seq, three.last_seq) == (one.last_seq + 1, one.last_seq + 2, one.last_seq + 3)
    history = items.item_history(ctx, officer, item.id)
    noted = [e for e in history if e.audit_seq and e.audit_seq >= one.first_seq]
    assert [(e.kind, e.counterparty, e.detail, e.receipt, e.audit_seq) for e in noted] == [
        ("receipt", "JPN", "noted", b"\x00r", one.last_seq),
        ("custody", None, f"e{three.first_seq}", None, three.first_seq),
        ("custody", None, f"e{three.last_seq}", None, three.last_seq)]
    assert all(e.at == at and e.at.tzinfo is not None for e in noted)
    entries = {e.seq: e for e in audit.tail(ctx, officer, 10)}
    assert entries[one.last_seq].action == "test.noted" and entries[three.last_seq].action == "test.many"
    assert audit.verify_store(ctx, officer, check_signature=None).ok


def test_an_item_and_its_events_are_added_together(ctx: Node, officer: Actor) -> None:
    """A received item is stored with its events (ItemsRepository.add with events; one statement on PostgreSQL)."""
    model = items.register_originated(ctx, officer, LABEL, b"launch at 0412", SEALER, location="vault 1")
    at = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)
    item = replace(model, id="JPN-received-1", origin="received", origin_ref=model.id, received_from="KOR",
                   created_at=at, updated_at=at)
    who = officer.official.id
    events = [ItemEvent(item.id, at, who, "received", "KOR", "under X", None, 7),
              ItemEvent(item.id, at, who, "relayed", "USA", "to USA", b"r", 7)]
    with ctx.store.unit_of_work() as uow:
        uow.items.add(item, events)
    with ctx.store.unit_of_work(readonly=True) as uow:
        assert uow.items.get(item.id) == item
        assert uow.items.events(item.id) == events
