"""Handling items as the policy allows (R7.2, R6.b, R6.g, R6.h, R4.5, Art. 13, Art. 16), on SQLite and PostgreSQL.

Every use case decides, audits (allowed and refused) and changes state in one transaction; a refusal
changes nothing but the audit log. Content is sealed at rest; destruction leaves nothing that can decrypt it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.conftest import snapshot
from tests.services.handling_fixtures import (
    PASSPHRASE,
    Cast,
    classification,
    label,
    make_node_dir,
    postgres_pages,
    reachable_bytes,
)

from gsomia.config import load_settings, write_settings
from gsomia.crypto import _cose, envelope, signature_check, verify_record
from gsomia.domain.timeutil import parse_instant
from gsomia.services import audit, handling, items
from gsomia.services.errors import Conflict, InvalidInput, PermissionDenied
from gsomia.services.runtime import KeysUnavailable, Node, open_node

SECRET = b"TEL launch detected at 38.99N 125.76E, 04:12:07Z, apogee 6000 km"
LARGE = SECRET + os.urandom(12_000) + b"END-OF-TRACK-FILE"  # spills into overflow pages / TOAST


def engine(node: Node) -> Engine:
    return node.store.engine


def unchanged_but_audit(node: Node, act: Callable[[], object], error: type[Exception]) -> Exception:
    """Run a refused `act`: only the audit log may change, by exactly one entry."""
    before = snapshot(engine(node))
    with pytest.raises(error) as raised:
        act()
    after = snapshot(engine(node))
    for table in after:
        if table not in ("audit_entries", "audit_head"):
            assert after[table] == before[table], table
    assert len(after["audit_entries"]) == len(before["audit_entries"]) + 1
    return raised.value


def content_key(node: Node, sealed: bytes) -> tuple[bytes, bytes]:
    """(content-encryption key, ciphertext) of a sealed-at-rest envelope, derived with the node's key."""
    body, _ = envelope._outer(sealed)
    body_protected, unprotected, ciphertext, layers = envelope._encrypt_parts(body)
    cek = envelope._unwrap_for(layers, node.keys, node.keys.current.public)
    # The key is the real one: it decrypts the content.
    iv = _cose.header_map(unprotected, "unprotected")[_cose.IV]
    assert _cose.gcm_decrypt(_cose.A256GCM, cek, iv, ciphertext,
                             _cose.enc_structure("Encrypt", body_protected)) in (SECRET, LARGE)
    return cek, bytes(ciphertext)


def needles(plaintext: bytes, sealed: bytes, cek: bytes, ciphertext: bytes) -> dict[str, bytes]:
    """What must not survive destruction, including 16-byte samples so that partial leftovers show too."""
    found = {"plaintext-head": plaintext[:24], "plaintext-tail": plaintext[-16:], "cek": cek,
             "envelope-head": sealed[:48]}
    for at in (0, len(ciphertext) // 2, len(ciphertext) - 16):
        found[f"ciphertext@{at}"] = ciphertext[at:at + 16]
    return found


def on_disk(data: Path) -> bytes:
    """The SQLite database file and its -wal and -shm files, as they are on disk."""
    return b"".join(p.read_bytes() for p in sorted(data.glob("gsomia.db*")))


def where_found(node: Node, data: Path, wanted: dict[str, bytes]) -> list[str]:
    haystacks = {"rows": reachable_bytes(engine(node))}
    if engine(node).dialect.name == "sqlite":
        haystacks["files"] = on_disk(data)
    elif (pages := postgres_pages(engine(node))) is not None:
        haystacks["pages"] = pages
    return [f"{name} in {where}" for name, needle in wanted.items() for where, hay in haystacks.items()
            if needle in hay]


# --- originate and read ------------------------------------------------------------------------------------

def test_originate_stores_only_sealed_content_and_a_cleared_reader_reads_it(node: Node, cast: Cast,
                                                                             tmp_path: Path) -> None:
    item = handling.originate(node, cast.reader, label(node), SECRET, location="vault 1")
    assert (item.state, item.classification, item.custodian, item.location) == (
        "held", "KOR:II", cast.reader.official.id, "vault 1")
    assert SECRET not in item.sealed_content and item.label_bytes == label(node).canonical_bytes()
    assert where_found(node, tmp_path, {"plaintext": SECRET, "plaintext-head": SECRET[:16]}) == []
    first = audit.tail(node, cast.officer, 1)[0]
    assert (first.action, first.subject, first.decision) == ("item.originate", item.id, "allow")
    assert [e.kind for e in items.item_history(node, cast.officer, item.id)] == ["originated"]

    got, plaintext = handling.read(node, cast.reader, item.id, purpose="missile warning")
    assert plaintext == SECRET and got.id == item.id
    entry = audit.tail(node, cast.officer, 1)[0]
    assert (entry.action, entry.subject, entry.decision, entry.actor) == (
        "item.read", item.id, "allow", cast.reader.official.id)
    assert "R7.2" in entry.rules and SECRET.decode() not in " ".join(entry.reasons)


@pytest.mark.parametrize("who,rule", [("low", "R7.2"), ("outsider", "R7.2")])
def test_a_refused_read_is_audited_and_returns_nothing(node: Node, cast: Cast, who: str, rule: str) -> None:
    item = handling.originate(node, cast.reader, label(node), SECRET)
    actor = getattr(cast, who)
    refused = unchanged_but_audit(node, lambda: handling.read(node, actor, item.id), PermissionDenied)
    assert isinstance(refused, PermissionDenied) and rule in refused.rules and refused.reasons
    assert SECRET.decode() not in str(refused)
    entry = audit.tail(node, cast.officer, 1)[0]
    assert (entry.action, entry.decision, entry.subject, entry.rules) == ("item.read", "deny", item.id, refused.rules)


def test_reading_for_another_purpose_is_refused(node: Node, cast: Cast) -> None:
    item = handling.originate(node, cast.reader, label(node), SECRET)
    refused = unchanged_but_audit(node, lambda: handling.read(node, cast.reader, item.id, purpose="press briefing"),
                                  PermissionDenied)
    assert "R6.b" in getattr(refused, "rules", ())


def test_the_register_decides_not_the_callers_copy_of_the_official(node: Node, cast: Cast) -> None:
    """An actor object claiming more than the register holds gets what the register says (R6.e, R7.2)."""
    item = handling.originate(node, cast.reader, label(node), SECRET)
    inflated = replace(cast.low, official=replace(cast.low.official, clearance=classification("KOR:I")))
    unchanged_but_audit(node, lambda: handling.read(node, inflated, item.id), PermissionDenied)


def test_a_refused_originate_is_audited_and_stores_nothing(node: Node, cast: Cast) -> None:
    refused = unchanged_but_audit(node, lambda: handling.originate(node, cast.low, label(node), SECRET),
                                  PermissionDenied)
    assert "R7.2" in getattr(refused, "rules", ())
    entry = audit.tail(node, cast.officer, 1)[0]
    assert (entry.action, entry.decision, entry.subject) == ("item.originate", "deny", None)
    assert items.list_items(node, cast.officer) == []


@pytest.mark.parametrize("change,error", [
    (lambda lb: replace(lb, originator="JPN"), InvalidInput),
    (lambda lb: replace(lb, purpose="  "), InvalidInput),
], ids=["foreign-originator", "no-purpose"])
def test_bad_labels_write_nothing(node: Node, cast: Cast, change: Callable[..., object],
                                  error: type[Exception]) -> None:
    before = snapshot(engine(node))
    with pytest.raises(error):
        handling.originate(node, cast.reader, change(label(node)), SECRET)  # type: ignore[arg-type]
    assert snapshot(engine(node)) == before


# --- destroy ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("plaintext", [SECRET, LARGE], ids=["small", "large"])
def test_destruction_leaves_nothing_that_can_decrypt(node: Node, cast: Cast, tmp_path: Path,
                                                     plaintext: bytes) -> None:
    """Art. 13: after destroy, neither plaintext, nor ciphertext, nor content key, nor envelope is on disk
    (SQLite: database, -wal and -shm files), reachable by SQL (both backends), or in any page of the items
    table or its TOAST table, dead tuples included (PostgreSQL, via pageinspect)."""
    keep = handling.originate(node, cast.reader, label(node), b"another item that stays")
    item = handling.originate(node, cast.reader, label(node), plaintext)
    cek, ciphertext = content_key(node, item.sealed_content)
    wanted = needles(plaintext, item.sealed_content, cek, ciphertext)
    before = set(where_found(node, tmp_path, wanted))
    assert {"ciphertext@0 in rows", "envelope-head in rows"} <= before  # the check can see them
    if engine(node).dialect.name == "sqlite":
        assert {"ciphertext@0 in files", "envelope-head in files"} <= before
    elif postgres_pages(engine(node)) is not None:
        assert {"ciphertext@0 in pages", "envelope-head in pages"} <= before
    handling.read(node, cast.reader, item.id)  # the content has been used, as it would be

    certificate = handling.destroy(node, cast.officer, item.id, method="crypto-erase", reason="no longer needed")

    assert where_found(node, tmp_path, wanted) == []
    if engine(node).dialect.name == "sqlite":
        wal = tmp_path / "gsomia.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0
    assert items.get_item(node, cast.officer, item.id).sealed_content == b""
    assert handling.read(node, cast.reader, keep.id)[1] == b"another item that stays"
    with pytest.raises(Conflict, match="destroyed"):
        handling.read(node, cast.reader, item.id)
    with pytest.raises(Conflict, match="destroyed"):
        handling.destroy(node, cast.officer, item.id, method="again", reason="again")
    assert certificate


def test_the_destruction_certificate_is_signed_recorded_and_audited(node: Node, cast: Cast) -> None:
    item = handling.originate(node, cast.reader, label(node), SECRET)
    certificate = handling.destroy(node, cast.officer, item.id, method="cross-cut shredding", reason="done")
    record = verify_record(certificate, trusted=node.keys.current.public, expected_type="destruction-certificate")
    assert record.body["item_id"] == item.id and record.body["method"] == "cross-cut shredding"
    assert record.body["officer"] == cast.officer.official.id and record.body["originator"] == "KOR"
    assert record.body["label_digest"].startswith("sha256:")
    assert record.signed_at == parse_instant(record.body["destroyed_at"])
    destroyed = items.item_history(node, cast.officer, item.id)[-1]
    assert (destroyed.kind, destroyed.receipt) == ("destroyed", certificate)
    entry = audit.tail(node, cast.officer, 1)[0]
    assert (entry.action, entry.decision, entry.seq) == ("item.destroy", "allow", destroyed.audit_seq)
    assert f"certificate: {handling.certificate_digest(certificate)}" in entry.reasons
    assert {"Art.13", "R6.h"} <= set(entry.rules)
    made = audit.checkpoint(node, cast.officer, node.checkpoint_signer)  # signed with the node's key
    report = audit.verify_store(node, cast.officer, check_signature=signature_check(node.keys.current.public))
    assert report.ok and report.signatures_checked and made.count == entry.seq


def test_a_refused_destroy_is_audited_and_erases_nothing(node: Node, cast: Cast) -> None:
    item = handling.originate(node, cast.reader, label(node), SECRET)
    refused = unchanged_but_audit(node, lambda: handling.destroy(node, cast.reader, item.id, method="burn",
                                                                 reason="tidy"), PermissionDenied)
    assert "R6.e" in getattr(refused, "rules", ())
    assert handling.read(node, cast.reader, item.id)[1] == SECRET
    before = snapshot(engine(node))
    with pytest.raises(InvalidInput):
        handling.destroy(node, cast.officer, item.id, method=" ", reason="r")
    assert snapshot(engine(node)) == before


# --- copy and reclassify --------------------------------------------------------------------------------

def test_a_copy_carries_the_markings_and_its_own_seal(node: Node, cast: Cast, tmp_path: Path) -> None:
    item = handling.originate(node, cast.reader, label(node), SECRET)
    made = handling.copy(node, cast.reader, item.id, reason="for the watch officer", location="ops room")
    translation = handling.copy(node, cast.reader, item.id, translate=True, reason="for JPN liaison")
    assert (made.derived_from, made.origin, made.label_bytes, made.location) == (
        item.id, "copy", item.label_bytes, "ops room")
    assert translation.origin == "translation" and made.sealed_content != item.sealed_content
    original_key, original_ciphertext = content_key(node, item.sealed_content)
    assert original_key != content_key(node, made.sealed_content)[0]  # its own content key
    handling.destroy(node, cast.officer, item.id, method="crypto-erase", reason="copy kept instead")
    assert where_found(node, tmp_path, {"cek": original_key, "ciphertext": original_ciphertext[:16]}) == []
    assert handling.read(node, cast.reader, made.id)[1] == SECRET
    assert [e.kind for e in items.item_history(node, cast.officer, made.id)] == ["copy-of"]
    unchanged_but_audit(node, lambda: handling.copy(node, cast.low, made.id, reason="x"), PermissionDenied)


def test_reclassify_reseals_under_the_new_label_and_copies_follow(node: Node, cast: Cast) -> None:
    item = handling.originate(node, cast.reader, label(node), SECRET)
    made = handling.copy(node, cast.reader, item.id, reason="working copy")
    unchanged_but_audit(node, lambda: handling.reclassify(node, cast.reader, item.id, classification("KOR:III")),
                        PermissionDenied)
    updated = handling.reclassify(node, cast.keeper, item.id, classification("KOR:III"), reason="downgraded")
    assert updated.classification == "KOR:III" and updated.label_bytes != item.label_bytes
    for item_id in (item.id, made.id):
        got, plaintext = handling.read(node, cast.low, item_id)  # KOR:III now suffices
        assert (got.classification, plaintext) == ("KOR:III", SECRET)
    entry = [e for e in audit.tail(node, cast.officer, 10) if e.action == "item.reclassify"][-1]
    assert (entry.decision, entry.subject) == ("allow", item.id) and "reason: downgraded" in entry.reasons
    with pytest.raises(Conflict):
        handling.reclassify(node, cast.keeper, item.id, classification("KOR:III"))


# --- the runtime ------------------------------------------------------------------------------------------

def test_a_node_opened_with_the_wrong_passphrase_fails_clearly(node: Node, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeysUnavailable, match="wrong passphrase"):
        open_node(tmp_path, passphrase=b"not the passphrase")
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE", "not it either")
    with pytest.raises(KeysUnavailable, match="wrong passphrase"):
        open_node(tmp_path)
    monkeypatch.delenv("GSOMIA_KEY_PASSPHRASE")
    monkeypatch.delenv("GSOMIA_KEY_PASSPHRASE_FILE", raising=False)
    with pytest.raises(KeysUnavailable, match="no key passphrase"):
        open_node(tmp_path)
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE", PASSPHRASE.decode())
    with open_node(tmp_path) as opened:
        assert opened.party == "KOR"


def test_open_node_wires_the_keys_and_the_demo_clock(tmp_path: Path, database: tuple[str, str | None]) -> None:
    settings = make_node_dir(tmp_path, database)
    write_settings(settings.model_copy(update={"clock_start": parse_instant("2016-11-23T10:00:00+09:00")}))
    assert load_settings(tmp_path).clock_start == parse_instant("2016-11-23T01:00:00Z")
    with open_node(tmp_path, passphrase=PASSPHRASE) as opened:
        now = opened.clock()
        assert parse_instant("2016-11-23T01:00:00Z") <= now < parse_instant("2016-11-23T01:05:00Z")
        assert opened.party == "KOR" and opened.keys.party == "KOR"
        assert opened.checkpoint_signer.key_id.endswith(opened.keys.current.kid.hex())
        sealed = opened.sealer.seal(b"label", b"content")
        assert opened.sealer.open(b"label", sealed) == b"content"
