"""Items out and back in as STANAG 4778 binding data objects: the round trip keeps label and content; a label or
data changed after binding, a forged signature, an unknown key or a partner's binding are refused and audited;
the export is a read, decided and audited as one."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.services.handling_fixtures import Cast, label

from gsomia.crypto import NodeKeys
from gsomia.domain.stanag4778 import EDDSA_ED25519, BindingError, bind, unbind
from gsomia.services import handling, stanag4778
from gsomia.services.context import Node
from gsomia.services.errors import InvalidInput, PermissionDenied
from gsomia.storage.records import AuditEntry

CONTENT = "미사일 발사 보고 — launch report 2026-11-22".encode()


def exported(node: Node, cast: Cast) -> tuple[str, bytes]:
    item = handling.originate(node, cast.reader, label(node), CONTENT)
    return item.id, stanag4778.export_item(node, cast.reader, item.id)


def audit(node: Node, action: str) -> list[AuditEntry]:
    with node.store.unit_of_work(readonly=True) as uow:
        return [e for e in uow.audit.tail(10_000) if e.action == action]


def test_round_trip_keeps_label_and_content(node: Node, cast: Cast) -> None:
    item_id, document = exported(node, cast)
    assert b"urn:nato:stanag:4778:bindinginformation:1:0" in document and b"<slab:Classification>KOR:II<" in document
    assert CONTENT not in document  # base64 in the object, as the Data element says
    bound = stanag4778.check_object(node, document)
    assert bound.label == label(node) and bound.data == CONTENT
    assert bound.key_name == node.keys.current.kid.hex()
    back = stanag4778.import_object(node, cast.reader, document)
    assert back.id != item_id and back.classification == "KOR:II"
    assert handling.read(node, cast.reader, back.id)[1] == CONTENT
    assert [e.decision for e in audit(node, "item.originate")] == ["allow", "allow"]


@pytest.mark.parametrize(("change", "reason"), [
    (lambda d: d.replace(b">KOR:II<", b">KOR:III<"), "the label was changed after it was bound"),
    (lambda d: d.replace(b"<slab:GenericValue>JPN</slab:GenericValue>", b""), "the label was changed"),
    (lambda d: re.sub(rb'(Encoding="base64">)([A-Za-z0-9+/])', lambda m: m.group(1) + (b"B" if m.group(2) != b"B"
                                                                                        else b"C"), d),
     "the data was changed after it was bound"),
    (lambda d: d.replace(b'MediaType="application/octet-stream"', b'MediaType="text/plain"'), "the data was changed"),
    (lambda d: re.sub(rb"<ds:SignatureValue>[^<]+", b"<ds:SignatureValue>" + base64.b64encode(b"\0" * 64), d),
     "the binding signature does not verify"),
    (lambda d: re.sub(rb"<ds:KeyName>[^<]+", b"<ds:KeyName>00112233aabbccdd", d), "which this node does not trust"),
    (lambda d: d.replace(b"xml-c14n2", b"xml-c14n11", 1), "canonicalisation must be C14N 2.0"),
    (lambda d: b'<!DOCTYPE x [<!ENTITY a "b">]>' + d.split(b"\n", 1)[1], "not acceptable XML"),
    (lambda d: d.replace(b'encoding="UTF-8"', b'encoding="UTF-B"', 1), "not acceptable XML"),  # the fuzzer's find
])
def test_a_changed_object_is_refused_and_the_refusal_audited(node: Node, cast: Cast,
                                                             change: Callable[[bytes], bytes], reason: str) -> None:
    _, document = exported(node, cast)
    tampered = change(document)
    assert tampered != document
    with pytest.raises(InvalidInput, match=reason):
        stanag4778.import_object(node, cast.reader, tampered)
    refused = audit(node, "item.import-4778")
    assert len(refused) == 1 and refused[0].decision == "deny" and reason.split(" after")[0] in refused[0].reasons[0]
    assert len(audit(node, "item.originate")) == 1  # nothing originated by the refused import


def test_a_binding_by_a_key_we_trust_but_of_a_partner_is_refused(node: Node, cast: Cast) -> None:
    """Signed validly, but by another party's key: a partner's item comes only as a release (R4.4)."""
    jpn = NodeKeys.generate("JPN", "jpn-node")
    _, document = exported(node, cast)
    bound = stanag4778.check_object(node, document)
    foreign = bind(bound.label, bound.data, media_type="application/octet-stream", key_name=jpn.kid.hex(),
                   algorithm=EDDSA_ED25519, sign=jpn.signer.sign)
    node.partners.directory.add(jpn.public)  # as if JPN were a configured partner
    with pytest.raises(PermissionDenied, match="a partner's item comes as a release"):
        stanag4778.import_object(node, cast.reader, foreign)


def test_export_is_a_read_decided_and_audited(node: Node, cast: Cast) -> None:
    item = handling.originate(node, cast.reader, label(node), CONTENT)
    with pytest.raises(PermissionDenied):
        stanag4778.export_item(node, cast.low, item.id)  # KOR:III clearance: may not read KOR:II
    assert [e.decision for e in audit(node, "item.read") if e.subject == item.id] == ["deny"]


def test_the_format_checks_the_signature_it_is_given(node: Node) -> None:
    """The domain's unbind with a verifier that refuses: nothing is returned, whatever else holds."""
    key = Ed25519PrivateKey.generate()
    document = bind(label(node), b"x", media_type="text/plain", key_name="k", algorithm=EDDSA_ED25519,
                    sign=key.sign)

    def refuse(name: str, algorithm: str, signed: bytes, signature: bytes) -> None:
        key.public_key().verify(signature, signed)  # the signature itself holds
        raise BindingError("not this key")

    with pytest.raises(BindingError, match="not this key"):
        unbind(document, node.schemes, refuse)


def test_text_between_the_signed_elements_is_not_part_of_them(node: Node, cast: Cast) -> None:
    """Each reference covers its element, not the text that follows it (the fuzzer found `tail` text breaking
    the canonicalisation): an object indented after binding still checks; a byte inside the label still fails."""
    _, document = exported(node, cast)
    indented = document.replace(b"</mb:Metadata>", b"</mb:Metadata>\n    ****").replace(b"<mb:Data ", b"\n  <mb:Data ")
    assert stanag4778.check_object(node, indented).data == CONTENT
    with pytest.raises(BindingError, match="label was changed"):
        stanag4778.check_object(node, indented.replace(b"missile warning", b"missile  warning"))
