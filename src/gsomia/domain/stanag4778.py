"""STANAG 4778 binding data objects in XML: a 4774 label bound to the data it labels by a signature over both
(the one definition of the format; signing and verifying are handed in, the domain holds no keys).

    <mb:BindingDataObject xmlns:mb="urn:nato:stanag:4778:bindinginformation:1:0">
      <mb:MetadataBindingContainer><mb:MetadataBinding>
        <mb:Metadata Id="label"><slab:ConfidentialityLabel …/></mb:Metadata>     STANAG 4774 (stanag4774.py)
        <mb:DataReference URI="#data"/>
      </mb:MetadataBinding>
      <mb:BindingInformation><ds:Signature>                                    XML-Signature shaped:
        <ds:SignedInfo>  CanonicalizationMethod = C14N 2.0, SignatureMethod = EdDSA-Ed25519 or ECDSA-SHA256,
                         one Reference (SHA-256 of the C14N 2.0 form) to #label and one to #data
        <ds:SignatureValue>  over the C14N 2.0 form of SignedInfo      <ds:KeyInfo><ds:KeyName> the key id
      </ds:Signature></mb:BindingInformation></mb:MetadataBindingContainer>
      <mb:Data Id="data" MediaType="…" Encoding="base64">…</mb:Data>
    </mb:BindingDataObject>

Reading bounds the size first, parses safely (defusedxml: no DTD, no entities), checks the structure, then
checks each reference's digest (a label or data changed after binding is named as such), then the signature
(`verify`, which raises), and last reads the label (`stanag4774.label_from_element`). Every failure is a
`BindingError` naming what is wrong; nothing is returned unless all of it holds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError, SubElement, canonicalize, register_namespace, tostring

from gsomia.domain.errors import DomainError
from gsomia.domain.labels import Label
from gsomia.domain.schemes import Schemes
from gsomia.domain.stanag4774 import label_element, label_from_element
from gsomia.domain.untrusted_xml import UnacceptableXml, parse_untrusted

MB_NS = "urn:nato:stanag:4778:bindinginformation:1:0"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
MB, DS = "{" + MB_NS + "}", "{" + DS_NS + "}"
C14N2 = "http://www.w3.org/2010/xml-c14n2"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
EDDSA_ED25519 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ALGORITHMS = (EDDSA_ED25519, ECDSA_SHA256)
LABEL_ID, DATA_ID = "label", "data"
MAX_OBJECT_BYTES = 22 * 1024 * 1024  # an item of 16 MiB, base64, and its label and signature

register_namespace("mb", MB_NS)
register_namespace("ds", DS_NS)

# verify(key name, signature algorithm URI, signed bytes, signature): raises when the signature does not hold.
Verify = Callable[[str, str, bytes, bytes], None]


class BindingError(DomainError):
    """A binding data object that cannot be read, or whose binding does not hold; the message says why."""


@dataclass(frozen=True, slots=True)
class Bound:
    """What a binding data object binds, once every check has passed."""

    label: Label
    data: bytes
    media_type: str
    key_name: str


def _c14n(element: Element) -> bytes:
    """C14N 2.0 of one element and its subtree, as it stands in the document: without the text that follows
    it (ElementTree's `tail`, which belongs to the parent; found by the fuzzer)."""
    tail, element.tail = element.tail, None
    try:
        return canonicalize(tostring(element, encoding="unicode")).encode()
    except ParseError as bad:
        raise BindingError(f"cannot canonicalise {element.tag}: {bad}") from None
    finally:
        element.tail = tail


def _digest(element: Element) -> str:
    return base64.b64encode(hashlib.sha256(_c14n(element)).digest()).decode()


def bind(label: Label, data: bytes, *, media_type: str, key_name: str, algorithm: str,
         sign: Callable[[bytes], bytes]) -> bytes:
    """The binding data object (UTF-8 XML) of `label` and `data`, signed by `sign` as `key_name`."""
    if algorithm not in ALGORITHMS:
        raise BindingError(f"signature algorithm {algorithm} is not one this format uses")
    root = Element(MB + "BindingDataObject")
    container = SubElement(root, MB + "MetadataBindingContainer")
    binding = SubElement(container, MB + "MetadataBinding")
    metadata = SubElement(binding, MB + "Metadata", Id=LABEL_ID)
    metadata.append(label_element(label))
    SubElement(binding, MB + "DataReference", URI="#" + DATA_ID)
    information = SubElement(container, MB + "BindingInformation")
    payload = Element(MB + "Data", Id=DATA_ID, MediaType=media_type, Encoding="base64")
    payload.text = base64.b64encode(data).decode()
    signature = SubElement(information, DS + "Signature")
    signed_info = SubElement(signature, DS + "SignedInfo")
    SubElement(signed_info, DS + "CanonicalizationMethod", Algorithm=C14N2)
    SubElement(signed_info, DS + "SignatureMethod", Algorithm=algorithm)
    for ref_id, element in ((LABEL_ID, metadata), (DATA_ID, payload)):
        reference = SubElement(signed_info, DS + "Reference", URI="#" + ref_id)
        SubElement(SubElement(reference, DS + "Transforms"), DS + "Transform", Algorithm=C14N2)
        SubElement(reference, DS + "DigestMethod", Algorithm=SHA256)
        SubElement(reference, DS + "DigestValue").text = _digest(element)
    SubElement(signature, DS + "SignatureValue").text = base64.b64encode(sign(_c14n(signed_info))).decode()
    SubElement(SubElement(signature, DS + "KeyInfo"), DS + "KeyName").text = key_name
    root.append(payload)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode()


def _one(parent: Element, path: str, what: str) -> Element:
    found = parent.findall(path)
    if len(found) != 1:
        raise BindingError(f"a binding data object holds exactly one {what} (found {len(found)})")
    return found[0]


def _b64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode((text or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BindingError(f"{what} is not base64") from None


def unbind(document: bytes, schemes: Schemes, verify: Verify) -> Bound:
    """The label and data a binding data object binds, after every check (see the module docstring)."""
    try:
        root = parse_untrusted(document, limit=MAX_OBJECT_BYTES, what="binding data object")
    except UnacceptableXml as bad:
        raise BindingError(str(bad)) from None
    if root.tag != MB + "BindingDataObject":
        raise BindingError(f"root element is {root.tag}, not BindingDataObject in {MB_NS}")
    binding = _one(root, f"{MB}MetadataBindingContainer/{MB}MetadataBinding", "MetadataBinding")
    metadata = _one(binding, MB + "Metadata", "Metadata")
    payload = _one(root, MB + "Data", "Data")
    if metadata.get("Id") != LABEL_ID or payload.get("Id") != DATA_ID:
        raise BindingError(f"Metadata and Data must carry Id={LABEL_ID!r} and Id={DATA_ID!r}")
    if _one(binding, MB + "DataReference", "DataReference").get("URI") != "#" + DATA_ID:
        raise BindingError(f"DataReference must point at #{DATA_ID}")
    signature = _one(root, f"{MB}MetadataBindingContainer/{MB}BindingInformation/{DS}Signature", "ds:Signature")
    signed_info = _one(signature, DS + "SignedInfo", "ds:SignedInfo")
    if _one(signed_info, DS + "CanonicalizationMethod", "CanonicalizationMethod").get("Algorithm") != C14N2:
        raise BindingError(f"canonicalisation must be C14N 2.0 ({C14N2})")
    algorithm = _one(signed_info, DS + "SignatureMethod", "SignatureMethod").get("Algorithm", "")
    if algorithm not in ALGORITHMS:
        raise BindingError(f"signature algorithm {algorithm!r} is not one this node accepts")
    references = {r.get("URI"): r for r in signed_info.findall(DS + "Reference")}
    if set(references) != {"#" + LABEL_ID, "#" + DATA_ID} or len(signed_info.findall(DS + "Reference")) != 2:
        raise BindingError("the signature must reference the label and the data, once each and nothing else")
    for ref_id, element, what in ((LABEL_ID, metadata, "label"), (DATA_ID, payload, "data")):
        reference = references["#" + ref_id]
        transforms = reference.findall(f"{DS}Transforms/{DS}Transform")
        if [t.get("Algorithm") for t in transforms] != [C14N2]:
            raise BindingError(f"the {what} reference must be transformed by C14N 2.0 alone")
        if _one(reference, DS + "DigestMethod", "DigestMethod").get("Algorithm") != SHA256:
            raise BindingError(f"the {what} reference must be digested with SHA-256")
        if (_one(reference, DS + "DigestValue", "DigestValue").text or "").strip() != _digest(element):
            raise BindingError(f"the {what} was changed after it was bound: its digest does not match")
    key_name = (_one(signature, f"{DS}KeyInfo/{DS}KeyName", "ds:KeyName").text or "").strip()
    value = _b64(_one(signature, DS + "SignatureValue", "SignatureValue").text, "SignatureValue")
    verify(key_name, algorithm, _c14n(signed_info), value)  # raises BindingError when it does not hold
    data = _b64(payload.text, "Data")
    if payload.get("Encoding") != "base64":
        raise BindingError("Data must be base64-encoded")
    labels = list(metadata)
    if len(labels) != 1:
        raise BindingError("Metadata must hold exactly one STANAG 4774 ConfidentialityLabel")
    try:
        label = label_from_element(labels[0], schemes)
    except DomainError as bad:
        raise BindingError(f"bound label: {bad}") from None
    return Bound(label, data, payload.get("MediaType", "application/octet-stream"), key_name)
