"""Fixed test vectors for the audit entry format (gsomia-audit/1): a partner's independent verifier
can check itself against these, and any drift in the one encoder (`entry_bytes`, which append,
entry_hash and the verifier all call) fails here first."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from gsomia.services.audit_chain import checkpoint_payload, entry_bytes, entry_hash, verify_chain
from gsomia.services.audit_log import EntryDraft, append
from gsomia.storage.repositories import RawEntry

GENESIS = "0" * 64
FIRST: RawEntry = (1, "2026-11-22T12:00:00.000000Z", "OFF-1a2b3c4d5e6f", "api", "item.release", "KOR-00ff", "deny",
                   '["R6.a"]', '["no written consent of KOR","한국어"]', GENESIS, "")
FIRST_HASH = "ffb51dbedad2bc92b06525bb9211a3fc07c93b73cdab77c9950e72c2b4e15d58"
SECOND: RawEntry = (2, "2026-11-22T12:00:00.000001Z", "anonymous", "api", "authenticate", None, None, "[]", "[]",
                    FIRST_HASH, "")
SECOND_HASH = "294608e9057430717e190a95f09ed69e5f8b6aa66fd8947769721752fb182a7b"


def test_the_canonical_text_is_as_documented() -> None:
    text = ("gsomia-audit/1\n1\n2026-11-22T12:00:00.000000Z\n16:OFF-1a2b3c4d5e6f\n3:api\n12:item.release\n"
            "8:KOR-00ff\n4:deny\n8:[\"R6.a\"]\n"
            "35:[\"no written consent of KOR\",\"한국어\"]\n" + GENESIS)
    assert entry_bytes(*FIRST[:10]) == text.encode()
    assert hashlib.sha256(text.encode()).hexdigest() == FIRST_HASH == entry_hash(FIRST)
    assert entry_hash(SECOND) == SECOND_HASH  # NULL subject and decision are written "-"


def test_the_verifier_and_the_appender_agree_with_the_vectors() -> None:
    rows = [FIRST[:10] + (FIRST_HASH,), SECOND[:10] + (SECOND_HASH,)]
    assert verify_chain([rows], [], check_signature=None).head_hash == SECOND_HASH

    class Audit:
        stored: list[RawEntry] = []

        def lock_head(self) -> tuple[int, str]:
            return 0, GENESIS

        def append(self, rows: list[RawEntry]) -> None:
            self.stored.extend(rows)

    class Uow:
        audit = Audit()
        audit_listeners = ()  # nobody told of what is appended (the node's metrics listen there)

    done = append(Uow(), datetime(2026, 11, 22, 12, tzinfo=timezone.utc),  # type: ignore[arg-type]
                  [EntryDraft("OFF-1a2b3c4d5e6f", "api", "item.release", "KOR-00ff", "deny", ("R6.a",),
                              ("no written consent of KOR", "한국어"))])
    assert done.head_hash == FIRST_HASH and Uow.audit.stored[0] == FIRST[:10] + (FIRST_HASH,)


def test_checkpoint_payload() -> None:
    assert checkpoint_payload(1, "ab" * 32, "2026-11-22T13:00:00.000000Z", "k1") == (
        b"gsomia-audit-checkpoint/1\n1\n" + b"ab" * 32 + b"\n2026-11-22T13:00:00.000000Z\n2:k1")
