"""The verifier on raw rows: every kind of tampering is found, and reported at the right seq."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gsomia.services.audit_chain import checkpoint_payload, entry_hash, verify_chain
from gsomia.storage.records import Checkpoint
from gsomia.storage.repositories import RawEntry
from gsomia.storage.tables import GENESIS_HASH

KEY = Ed25519PrivateKey.generate()


def check(data: bytes, signature: bytes) -> None:
    KEY.public_key().verify(signature, data)


def chain(n: int) -> list[RawEntry]:
    rows: list[RawEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        row: RawEntry = (seq, f"2026-11-22T12:00:00.{seq:06d}Z", "OFF-1", "test", "item.release", f"KOR-{seq}",
                         "allow" if seq % 2 else "deny", '["R6.a"]', '["reason"]', prev, "")
        prev = entry_hash(row)
        rows.append(row[:10] + (prev,))
    return rows


def rehash_from(rows: list[RawEntry], start: int) -> list[RawEntry]:
    """What a careful forger does after a change: recompute every later hash and link."""
    out = rows[:start]
    prev = out[-1][10] if out else GENESIS_HASH
    for row in rows[start:]:
        fixed: RawEntry = row[:9] + (prev, "")
        prev = entry_hash(fixed)
        out.append(fixed[:10] + (prev,))
    return out


def signed(rows: list[RawEntry], count: int) -> Checkpoint:
    head = rows[count - 1][10]
    at = "2026-11-22T13:00:00.000000Z"
    return Checkpoint(count, head, at, "test-key", KEY.sign(checkpoint_payload(count, head, at, "test-key")))


def problem(rows: list[RawEntry], checkpoints: list[Checkpoint] | None = None) -> tuple[int, str]:
    report = verify_chain([rows], checkpoints or [], check_signature=check)
    assert report.problem is not None, "tampering went undetected"
    return report.problem.seq, report.problem.what


def test_an_untouched_chain_verifies() -> None:
    rows = chain(50)
    report = verify_chain([rows[:20], rows[20:]], [signed(rows, 10), signed(rows, 50)], check_signature=check)
    assert report.ok and report.entries == 50 and report.last_seq == 50 and report.head_hash == rows[-1][10]
    assert verify_chain([[]], [], check_signature=None).ok


def _edit(rows: list[RawEntry], seq: int, field: int, value: object) -> list[RawEntry]:
    out = list(rows)
    out[seq - 1] = tuple(value if i == field else v for i, v in enumerate(rows[seq - 1]))  # type: ignore[assignment]
    return out


@pytest.mark.parametrize("field,value", [(1, "2026-11-22T12:00:00.999999Z"), (2, "OFF-2"), (4, "item.destroy"),
                                         (5, None), (6, "allow"), (7, '["R6.b"]'), (8, '["other"]')])
def test_editing_any_field_is_found_at_that_entry(field: int, value: object) -> None:
    assert problem(_edit(chain(10), 4, field, value)) == (4, "content does not match its hash (the entry was altered)")


def test_editing_and_rehashing_one_entry_breaks_the_next_link() -> None:
    rows = _edit(chain(10), 4, 2, "OFF-9")
    rows = rehash_from(rows, 3)[:4] + rows[4:]
    assert problem(rows)[0] == 5


def test_editing_and_rehashing_everything_after_is_caught_by_a_checkpoint() -> None:
    rows = chain(10)
    checkpoints = [signed(rows, 8)]
    forged = rehash_from(_edit(rows, 4, 2, "OFF-9"), 3)
    assert problem(forged, checkpoints) == (8, "hash differs from the signed checkpoint (the log was rewritten)")


def test_inserting_an_entry_is_found() -> None:
    rows = chain(10)
    extra: RawEntry = (5, "x", "OFF-6", "test", "a", None, None, "[]", "[]", rows[3][10], "")
    extra = extra[:10] + (entry_hash(extra),)
    renumbered = [r if r[0] < 5 else (r[0] + 1,) + r[1:] for r in rows]
    assert problem(renumbered[:4] + [extra] + renumbered[4:])[0] == 6


def test_reordering_entries_is_found() -> None:
    rows = chain(10)
    swapped = rows[:3] + [rows[4], rows[3]] + rows[5:]
    assert problem(swapped) == (4, "entry 4 is missing (the next entry present is 5)")
    renumbered = rows[:3] + [(4,) + rows[4][1:], (5,) + rows[3][1:]] + rows[5:]
    assert problem(renumbered)[0] == 4


def test_deleting_an_entry_in_the_middle_is_found() -> None:
    rows = chain(10)
    assert problem(rows[:6] + rows[7:]) == (7, "entry 7 is missing (the next entry present is 8)")


def test_duplicating_an_entry_is_found() -> None:
    rows = chain(10)
    assert problem(rows[:6] + [rows[5]] + rows[6:])[0] == 7


def test_deleting_the_newest_entries_is_found_by_a_checkpoint() -> None:
    rows = chain(10)
    checkpoints = [signed(rows, 5), signed(rows, 10)]
    seq, what = problem(rows[:7], checkpoints)
    assert seq == 8 and "entries 8..10 are missing" in what
    seq, what = problem([], checkpoints)
    assert seq == 1 and "entries 1..10 are missing" in what


def test_a_forged_or_altered_checkpoint_is_refused() -> None:
    rows = chain(10)
    good = signed(rows, 10)
    forged = Checkpoint(7, rows[6][10], good.at, good.key_id, good.signature)
    assert problem(rows[:7], [forged]) == (7, f"checkpoint of {good.at} has an invalid signature")
    other_key = Ed25519PrivateKey.generate()
    wrong = Checkpoint(10, good.head_hash, good.at, good.key_id,
                       other_key.sign(checkpoint_payload(10, good.head_hash, good.at, good.key_id)))
    assert problem(rows, [wrong])[0] == 10


def test_a_partial_export_is_anchored_by_a_checkpoint() -> None:
    rows = chain(10)
    checkpoints = [signed(rows, 4), signed(rows, 10)]
    report = verify_chain([rows[4:]], checkpoints, check_signature=check, complete=False)
    assert report.ok and (report.first_seq, report.last_seq, report.entries) == (5, 10, 6)
    forged_start = rehash_from([rows[0], rows[1], rows[2], rows[3]] + [_edit(rows, 5, 2, "OFF-9")[4]] + rows[5:], 0)
    forged = [r for r in forged_start if r[0] >= 5]
    forged[0] = forged[0][:9] + ("f" * 64, forged[0][10])
    bad = verify_chain([rehash_from_anchor(forged)], checkpoints, check_signature=check, complete=False)
    assert bad.problem is not None and bad.problem.seq == 5


def rehash_from_anchor(rows: list[RawEntry]) -> list[RawEntry]:
    prev = rows[0][9]
    out: list[RawEntry] = []
    for row in rows:
        fixed: RawEntry = row[:9] + (prev, "")
        prev = entry_hash(fixed)
        out.append(fixed[:10] + (prev,))
    return out


def test_progress_is_reported_per_batch() -> None:
    rows = chain(30)
    seen: list[int] = []
    on_progress: Callable[[int], None] = seen.append
    verify_chain([rows[:10], rows[10:20], rows[20:]], [], check_signature=None, on_progress=on_progress)
    assert seen == [10, 20, 30]
