"""The audit log's hash chain, pure: canonical encoding, entry hashes, checkpoints, verification.

An entry's hash is SHA-256 over a canonical text of all its fields and the previous entry's hash.
Free-text fields are length-prefixed (`len:text`, len in Unicode code points), so no choice of text can
shift a field boundary; NULL is written `-`. Test vectors: tests/services/test_audit_vectors.py.
Checkpoints sign (count, head hash, time, key id): they make deletion of the newest entries
detectable, which a hash chain alone cannot (its tail can be cut cleanly). Entries appended after
the last checkpoint are protected only by the next checkpoint, so checkpoint often.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from gsomia.storage.records import Checkpoint
from gsomia.storage.repositories import RawEntry
from gsomia.storage.tables import GENESIS_HASH

ENTRY_FORMAT = "gsomia-audit/1"
CHECKPOINT_FORMAT = "gsomia-audit-checkpoint/1"


class CheckpointSigner(Protocol):
    """The node's signing key, injected (the crypto layer provides the real one)."""

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


# verify(data, signature) built from the signer's public key bytes; raises on a bad signature.
SignatureCheck = Callable[[bytes, bytes], None]


def audit_time(at: datetime) -> str:
    """Fixed-width UTC text: hashes identically on every backend and sorts as text."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_bytes(seq: int, at: str, actor: str, via: str, action: str, subject: str | None, decision: str | None,
                rules: str, reasons: str, prev_hash: str) -> bytes:
    """The canonical bytes of an entry, which its hash covers: the one definition of the format, called by
    the appender, `entry_hash` and the verifier. Fields as stored (`at` from `audit_time`, rules and
    reasons JSON text). Positional arguments, not a row: the appender has no row until it has the hash."""
    return (f"{ENTRY_FORMAT}\n{seq}\n{at}\n{len(actor)}:{actor}\n{len(via)}:{via}\n{len(action)}:{action}\n"
            f"{'-' if subject is None else f'{len(subject)}:{subject}'}\n"
            f"{'-' if decision is None else f'{len(decision)}:{decision}'}\n"
            f"{len(rules)}:{rules}\n{len(reasons)}:{reasons}\n{prev_hash}").encode()


def entry_hash(row: RawEntry) -> str:
    """Hash of a raw row (its own `entry_hash` field is ignored)."""
    return hashlib.sha256(entry_bytes(*row[:10])).hexdigest()


def checkpoint_payload(count: int, head_hash: str, at: str, key_id: str) -> bytes:
    return f"{CHECKPOINT_FORMAT}\n{count}\n{head_hash}\n{at}\n{len(key_id)}:{key_id}".encode()


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    what: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    entries: int  # how many entries checked out before the first problem (all of them when ok)
    first_seq: int | None
    last_seq: int | None
    head_hash: str | None
    checkpoints: int
    signatures_checked: bool
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(
    batches: Iterable[Sequence[RawEntry]],
    checkpoints: Sequence[Checkpoint],
    *,
    check_signature: SignatureCheck | None,
    complete: bool = True,
    on_progress: Callable[[int], None] | None = None,
    held: Mapping[int, str] | None = None,
    held_by: str = "a partner",
) -> VerifyReport:
    """Walk the entries in order and report the first problem, by seq.

    `complete`: the entries start at seq 1 from the genesis hash (a whole log). An export that
    starts later is anchored by its first entry's prev_hash, which a checkpoint may confirm.
    `held`: copies of entry hashes kept elsewhere (seq → hash; `held_by` says where: the anchors
    partners keep), which neither a rewrite of the chain nor a cut of its newest entries can match.
    """
    held = held or {}
    problems = [p for p in (_signature_problem(c, check_signature) for c in checkpoints) if p]
    anchors: dict[int, str] = {}
    for c in checkpoints:
        anchors.setdefault(c.count, c.head_hash)
        if anchors[c.count] != c.head_hash:
            problems.append(Problem(c.count, f"two checkpoints disagree on the hash of entry {c.count}"))
    expected: int | None = 1 if complete else None
    prev = GENESIS_HASH
    first: int | None = None
    count = 0
    walk_problem: Problem | None = None
    sha256 = hashlib.sha256
    for rows in batches:
        for row in rows:
            seq, at, actor, via, action, subject, decision, rules, reasons, prev_hash, hashed = row
            if expected is None:  # an export's first entry: its prev_hash is the anchor
                expected, prev = seq, prev_hash
                if seq - 1 in anchors and anchors[seq - 1] != prev_hash:
                    walk_problem = Problem(seq, f"prev_hash does not match the signed checkpoint of entry {seq - 1}")
                    break
            if first is None:
                first = seq
            if seq != expected:
                what = (f"entry {expected} is missing (the next entry present is {seq})" if seq > expected
                        else f"entry {seq} is out of order or duplicated (expected {expected})")
                walk_problem = Problem(expected, what)
                break
            if prev_hash != prev:
                walk_problem = Problem(seq, f"prev_hash does not match entry {seq - 1}'s hash "
                                            "(an entry was inserted, removed or reordered)")
                break
            canonical = entry_bytes(seq, at, actor, via, action, subject, decision, rules, reasons, prev_hash)
            if sha256(canonical).hexdigest() != hashed:
                walk_problem = Problem(seq, "content does not match its hash (the entry was altered)")
                break
            if seq in anchors and anchors[seq] != hashed:
                walk_problem = Problem(seq, "hash differs from the signed checkpoint (the log was rewritten)")
                break
            if seq in held and held[seq] != hashed:
                walk_problem = Problem(seq, f"entry {seq} is not the entry whose hash {held_by} holds (the log"
                                            " was changed here and rewritten after it)")
                break
            prev = hashed
            expected = seq + 1
        count += len(rows)
        if on_progress is not None:
            on_progress(count)
        if walk_problem is not None:
            break
    last = None if expected is None or first is None else expected - 1
    if walk_problem is not None:
        problems.append(walk_problem)
    else:
        end = last if last is not None else (0 if complete else None)
        beyond = [c for c in checkpoints if end is not None and c.count > end]
        if beyond:
            top = max(beyond, key=lambda c: c.count)
            problems.append(Problem((end or 0) + 1, f"entries {(end or 0) + 1}..{top.count} are missing: "
                                                    f"checkpoint of {top.at} covers {top.count} entries"))
        if held and end is not None and max(held) > end:
            problems.append(Problem(end + 1, f"entries {end + 1}..{max(held)} are missing: {held_by} holds"
                                             " their hashes"))
    return VerifyReport(
        entries=0 if first is None or expected is None else expected - first,  # entries that checked out
        first_seq=first, last_seq=last, head_hash=prev if first is not None else None,
        checkpoints=len(checkpoints), signatures_checked=check_signature is not None,
        problem=min(problems, key=lambda p: p.seq) if problems else None,
    )


def _signature_problem(checkpoint: Checkpoint, check: SignatureCheck | None) -> Problem | None:
    if check is None:
        return None
    payload = checkpoint_payload(checkpoint.count, checkpoint.head_hash, checkpoint.at, checkpoint.key_id)
    try:
        check(payload, checkpoint.signature)
    except Exception:  # noqa: BLE001 - whatever the injected verifier raises means "not accepted"
        return Problem(checkpoint.count, f"checkpoint of {checkpoint.at} has an invalid signature")
    return None
