"""NATO STANAG 4774 confidentiality labels in XML, written and read here (the one definition of the format).

    <slab:ConfidentialityLabel xmlns:slab="urn:nato:stanag:4774:confidentialitymetadatalabel:1:0">
      <slab:ConfidentialityInformation>
        <slab:PolicyIdentifier>KOR</slab:PolicyIdentifier>        the national policy (scheme) of the marking
        <slab:Classification>KOR:II</slab:Classification>          a level of that policy's scheme
        <slab:Category TagName="Releasable To" Type="PERMISSIVE"><slab:GenericValue>USA</slab:GenericValue>…
        <slab:Category TagName="Topic" Type="RESTRICTIVE">…        need-to-know
        <slab:Category TagName="Purpose" Type="INFORMATIVE">…      (R6.b)  also Rights, Provided By
      </slab:ConfidentialityInformation>
      <slab:AlternativeConfidentialityInformation>…              the recipient's equivalent marking (R4.4)
      <slab:CreationDateTime>2026-11-22T10:00:00Z</slab:CreationDateTime>
    </slab:ConfidentialityLabel>

Reading checks everything before a Label is made: size (before parsing), safe XML (no DTD, no entities),
the structure (root, each element once, category types), the policy identifier (a scheme this node knows)
and the classification (a level of that policy's scheme); a permissive or restrictive category this node
cannot honour is refused rather than dropped. Every failure is a `LabelFormatError` naming what is wrong.
The label's originator is not part of 4774: it is the policy's party unless the caller knows better.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from gsomia.domain.errors import DomainError
from gsomia.domain.labels import STANAG_4774_NS, Label
from gsomia.domain.schemes import Classification, Schemes
from gsomia.domain.timeutil import parse_instant
from gsomia.domain.untrusted_xml import UnacceptableXml, parse_untrusted

NS = "{" + STANAG_4774_NS + "}"
PREFIX = "slab"
MAX_LABEL_BYTES = 16 * 1024
ROOT = NS + "ConfidentialityLabel"
# The categories this node writes and understands: tag name → (type, our label's field).
CATEGORIES = {
    "Releasable To": ("PERMISSIVE", "releasable_to"),
    "Topic": ("RESTRICTIVE", "topics"),
    "Purpose": ("INFORMATIVE", "purpose"),
    "Rights": ("INFORMATIVE", "rights_note"),
    "Provided By": ("INFORMATIVE", "provider"),
}
TYPES = ("PERMISSIVE", "RESTRICTIVE", "INFORMATIVE")


class LabelFormatError(DomainError):
    """A STANAG 4774 label this node cannot read or map to its labels; the message says why."""


def label_element(label: Label) -> Element:
    """The label as a 4774 `ConfidentialityLabel` element (to embed, e.g. in a 4778 binding or CoT detail)."""
    register_namespace(PREFIX, STANAG_4774_NS)
    data = label.to_stanag4774()
    root = Element(ROOT)
    info = SubElement(root, NS + "ConfidentialityInformation")
    ci = data["ConfidentialityInformation"]
    SubElement(info, NS + "PolicyIdentifier").text = ci["PolicyIdentifier"]
    SubElement(info, NS + "Classification").text = ci["Classification"]
    for cat in ci["Category"]:
        category = SubElement(info, NS + "Category", TagName=cat["TagName"], Type=cat["Type"])
        for value in cat["GenericValue"]:
            SubElement(category, NS + "GenericValue").text = value
    alt = data.get("AlternativeConfidentialityInformation")
    if alt:
        alternative = SubElement(root, NS + "AlternativeConfidentialityInformation")
        SubElement(alternative, NS + "PolicyIdentifier").text = alt["PolicyIdentifier"]
        SubElement(alternative, NS + "Classification").text = alt["Classification"]
    SubElement(root, NS + "CreationDateTime").text = data["CreationDateTime"]
    return root


def write_label(label: Label) -> str:
    """The label as a 4774 XML document (no XML declaration)."""
    return tostring(label_element(label), encoding="unicode")


def read_label(data: bytes | str, schemes: Schemes, originator: str | None = None) -> Label:
    """A 4774 XML label as our Label; LabelFormatError if it is malformed, hostile or cannot be mapped."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        root = parse_untrusted(raw, limit=MAX_LABEL_BYTES, what="label")
    except UnacceptableXml as bad:
        raise LabelFormatError(str(bad)) from None
    return label_from_element(root, schemes, originator)


def _one(parent: Element, tag: str, where: str) -> Element:
    found = parent.findall(NS + tag)
    if len(found) != 1:
        raise LabelFormatError(f"{where} must hold exactly one {tag} (found {len(found)})")
    return found[0]


def _text(parent: Element, tag: str, where: str) -> str:
    text = (_one(parent, tag, where).text or "").strip()
    if not text:
        raise LabelFormatError(f"{where}/{tag} is empty")
    return text


def label_from_element(root: Element, schemes: Schemes, originator: str | None = None) -> Label:
    """An already parsed (safely) `ConfidentialityLabel` element as our Label."""
    if root.tag != ROOT:
        raise LabelFormatError(f"root element is {root.tag}, not ConfidentialityLabel in {STANAG_4774_NS}")
    info = _one(root, "ConfidentialityInformation", "ConfidentialityLabel")
    policy = _text(info, "PolicyIdentifier", "ConfidentialityInformation")
    if policy not in schemes.parties:
        raise LabelFormatError(f"policy identifier {policy!r} is not a policy this node knows "
                               f"({', '.join(sorted(schemes.parties))})")
    classification = _classification(schemes, policy, _text(info, "Classification", "ConfidentialityInformation"))
    fields: dict[str, list[str]] = {}
    for category in info.findall(NS + "Category"):
        name, kind = category.get("TagName", ""), category.get("Type", "")
        if kind not in TYPES:
            raise LabelFormatError(f"category {name!r} has type {kind!r}, not one of {', '.join(TYPES)}")
        known = CATEGORIES.get(name)
        if known is None:
            if kind == "INFORMATIVE":
                continue  # information only: nothing to honour
            raise LabelFormatError(f"{kind.lower()} category {name!r} cannot be honoured by this node's labels")
        if known[0] != kind:
            raise LabelFormatError(f"category {name!r} must be {known[0]}, not {kind}")
        if name in fields:
            raise LabelFormatError(f"category {name!r} appears twice")
        fields[name] = [(v.text or "").strip() for v in category.findall(NS + "GenericValue")]
    national = None
    alternatives = root.findall(NS + "AlternativeConfidentialityInformation")
    if len(alternatives) > 1:
        raise LabelFormatError("more than one AlternativeConfidentialityInformation")
    if alternatives:
        where = "AlternativeConfidentialityInformation"
        alt_policy = _text(alternatives[0], "PolicyIdentifier", where)
        if alt_policy not in schemes.parties:
            raise LabelFormatError(f"{where}: policy identifier {alt_policy!r} is not a policy this node knows")
        national = _classification(schemes, alt_policy, _text(alternatives[0], "Classification", where))
    try:
        created = parse_instant(_text(root, "CreationDateTime", "ConfidentialityLabel"))
    except ValueError:
        raise LabelFormatError("CreationDateTime is not an ISO 8601 instant with a time zone") from None
    single = {name: (values[0] if values else "") for name, values in fields.items()}
    try:
        releasable = frozenset(schemes.require_party(p) for p in fields.get("Releasable To", []))
        provider = schemes.require_party(single["Provided By"]) if single.get("Provided By") else None
    except DomainError as bad:
        raise LabelFormatError(f"Releasable To / Provided By: {bad}") from None
    return Label(originator=originator or policy, policy=policy, classification=classification,
                 releasable_to=releasable, topics=frozenset(t for t in fields.get("Topic", []) if t),
                 purpose=single.get("Purpose", ""), created_at=created, rights_note=single.get("Rights", ""),
                 provider=provider, national_marking=national)


def _classification(schemes: Schemes, policy: str, text: str) -> Classification:
    try:
        found = schemes.parse(text if ":" in text else f"{policy}:{text}")
    except DomainError:
        raise LabelFormatError(f"classification {text!r} is not a level of the {policy} policy") from None
    if found.party != policy:
        raise LabelFormatError(f"classification {text!r} belongs to {found.party}, not to the policy {policy}")
    return found
