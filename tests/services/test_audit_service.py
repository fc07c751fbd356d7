"""Audit on a real database: tampering with stored rows is found; exports verify elsewhere."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from gsomia.services import audit
from gsomia.services.audit_chain import VerifyReport
from gsomia.services.audit_log import EntryDraft, append
from gsomia.services.context import Actor, Node
from gsomia.services.errors import InvalidInput

KEY = Ed25519PrivateKey.generate()
Guard = Callable[[Engine], None]


class TestSigner:
    key_id = "test-ed25519"

    def sign(self, data: bytes) -> bytes:
        return KEY.sign(data)


def check(data: bytes, signature: bytes) -> None:
    KEY.public_key().verify(signature, data)


def fill(ctx: Node, count: int) -> None:
    with ctx.store.unit_of_work() as uow:
        append(uow, ctx.clock(), [EntryDraft("OFF-x", "test", "test.fill", f"S-{n}", "allow", ("R6.f",), ("r",))
                                  for n in range(count)])


def verify(ctx: Node, officer: Actor) -> VerifyReport:
    return audit.verify_store(ctx, officer, check_signature=check)


@pytest.mark.parametrize("sql", ["UPDATE audit_entries SET actor = 'x' WHERE seq = 1",
                                 "DELETE FROM audit_entries WHERE seq = 1"], ids=["update", "delete"])
def test_the_database_refuses_changes_to_entries(ctx: Node, officer: Actor, engine: Engine, sql: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql))


def test_a_clean_store_verifies_with_checkpoints(ctx: Node, officer: Actor) -> None:
    fill(ctx, 30)
    made = audit.checkpoint(ctx, officer, TestSigner())
    assert made.count == 31  # the bootstrap entry plus 30
    report = verify(ctx, officer)
    assert report.ok and report.entries == 31 and report.checkpoints == 1 and report.signatures_checked


@pytest.mark.parametrize("sql,seq,words", [
    ("UPDATE audit_entries SET reasons = '[\"edited\"]' WHERE seq = 7", 7, "altered"),
    ("UPDATE audit_entries SET seq = seq + 1000 WHERE seq = 9", 9, "missing"),
    ("DELETE FROM audit_entries WHERE seq = 12", 12, "missing"),
    ("DELETE FROM audit_entries WHERE seq > 18", 19, "missing"),  # the newest, covered by the checkpoint
], ids=["edit", "reorder", "delete-middle", "delete-newest"])
def test_tampering_with_stored_entries_is_found(ctx: Node, officer: Actor, engine: Engine, sql: str,
                                                seq: int, words: str, unguarded: Guard) -> None:
    fill(ctx, 20)
    audit.checkpoint(ctx, officer, TestSigner())
    unguarded(engine)
    with engine.begin() as conn:
        conn.execute(text(sql))
    report = verify(ctx, officer)
    assert report.problem is not None and report.problem.seq == seq and words in report.problem.what


def test_deleting_the_newest_entries_and_moving_the_head_is_found_by_the_checkpoint(
        ctx: Node, officer: Actor, engine: Engine, unguarded: Guard) -> None:
    fill(ctx, 10)
    audit.checkpoint(ctx, officer, TestSigner())
    unguarded(engine)
    with engine.begin() as conn:
        prev = conn.execute(text("SELECT entry_hash FROM audit_entries WHERE seq = 8")).scalar_one()
        conn.execute(text("DELETE FROM audit_entries WHERE seq > 8"))
        conn.execute(text("UPDATE audit_head SET seq = 8, entry_hash = :h"), {"h": prev})
    report = verify(ctx, officer)
    assert report.problem is not None and report.problem.seq == 9 and "checkpoint" in report.problem.what


def test_deleting_after_the_last_checkpoint_is_found_by_the_head_row(
        ctx: Node, officer: Actor, engine: Engine, unguarded: Guard) -> None:
    fill(ctx, 10)
    unguarded(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = 11"))
    report = verify(ctx, officer)
    assert report.problem is not None and report.problem.seq == 11 and "head row" in report.problem.what


def test_an_export_verifies_with_the_public_key_and_tampering_shows(ctx: Node, officer: Actor) -> None:
    fill(ctx, 10)
    audit.checkpoint(ctx, officer, TestSigner())
    fill(ctx, 5)
    audit.checkpoint(ctx, officer, TestSigner())
    out = io.StringIO()
    summary = audit.export(ctx, officer, out)
    assert (summary.entries, summary.checkpoints) == (17, 2)  # the export itself is audited first
    lines = out.getvalue().splitlines()
    assert audit.verify_export(lines, check_signature=check).ok
    edited = [line.replace('"S-3"', '"S-4"') for line in lines]
    report = audit.verify_export(edited, check_signature=check)
    assert report.problem is not None and report.problem.seq == 5
    truncated = [line for line in lines if json.loads(line).get("seq", 0) <= 12]
    report = audit.verify_export(truncated, check_signature=check)
    assert report.problem is not None and report.problem.seq == 13


def test_an_export_since_a_time_is_anchored(ctx: Node, officer: Actor) -> None:
    fill(ctx, 5)
    audit.checkpoint(ctx, officer, TestSigner())
    since = ctx.clock()
    fill(ctx, 5)
    out = io.StringIO()
    summary = audit.export(ctx, officer, out, since=since)
    assert summary.first_seq == 7 and summary.entries == 6
    report = audit.verify_export(out.getvalue().splitlines(), check_signature=check)
    assert report.ok and report.first_seq == 7


def test_a_garbled_export_line_is_bad_input(officer: Actor) -> None:
    with pytest.raises(InvalidInput, match="line 2"):
        audit.verify_export(['{"type":"header"}', "not json"], check_signature=None)
