"""Confidentiality labels: what an item is, who may have it, and why it was provided.

A label renders as a STANAG 4774-style structure and as a US-style banner, and has one canonical
byte form: the bytes the crypto layer binds to the content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gsomia.domain.errors import DomainError
from gsomia.domain.schemes import Classification, Schemes
from gsomia.domain.timeutil import format_instant, parse_instant

STANAG_4774_NS = "urn:nato:stanag:4774:confidentialitymetadatalabel:1:0"
LABEL_FORMAT = "gsomia-label/1"


def banner_order(parties: frozenset[str] | set[str]) -> list[str]:
    """USA first, then the other trigraphs alphabetically (US banner convention)."""
    return sorted(parties, key=lambda p: (p != "USA", p))


@dataclass(frozen=True, slots=True)
class Label:
    originator: str
    policy: str
    classification: Classification
    releasable_to: frozenset[str]
    topics: frozenset[str]
    purpose: str
    created_at: datetime
    rights_note: str = ""
    # Set on receipt (R4.4): the providing government and the recipient's equivalent marking.
    provider: str | None = None
    national_marking: Classification | None = None

    @property
    def dual_marked(self) -> bool:
        return self.provider is not None and self.national_marking is not None

    def received(self, provider: str, national_marking: Classification) -> Label:
        """The label as the recipient keeps it: provider named and its own equivalent marking added (R4.4)."""
        return replace(self, provider=provider, national_marking=national_marking)

    def reclassified(self, classification: Classification) -> Label:
        return replace(self, classification=classification)

    # --- renderings -------------------------------------------------------------------------------

    def banner(self, schemes: Schemes) -> str:
        tier = schemes.level(self.classification).tier
        rel = ", ".join(banner_order(self.releasable_to))
        return f"{tier.banner}//REL TO {rel}" if rel else f"{tier.banner}//NOFORN"

    def dual_marking(self, schemes: Schemes) -> str:
        """Both markings, as a recipient must show them (R4.4)."""
        original = schemes.level(self.classification)
        text = f"{original.party} {original.marking} ({original.romanisation})"
        if self.national_marking is not None:
            own = schemes.level(self.national_marking)
            text = f"{own.party} {own.marking} ({own.romanisation}) / provided by {self.provider}: {text}"
        return text

    def to_stanag4774(self) -> dict[str, Any]:
        categories: list[dict[str, Any]] = [
            {"TagName": "Releasable To", "Type": "PERMISSIVE",
             "GenericValue": banner_order(self.releasable_to)},
        ]
        if self.topics:
            categories.append({"TagName": "Topic", "Type": "RESTRICTIVE", "GenericValue": sorted(self.topics)})
        categories.append({"TagName": "Purpose", "Type": "INFORMATIVE", "GenericValue": [self.purpose]})
        if self.rights_note:
            categories.append({"TagName": "Rights", "Type": "INFORMATIVE", "GenericValue": [self.rights_note]})
        if self.provider:
            categories.append({"TagName": "Provided By", "Type": "INFORMATIVE", "GenericValue": [self.provider]})
        label: dict[str, Any] = {
            "ConfidentialityInformation": {
                "PolicyIdentifier": self.policy,
                "Classification": str(self.classification),
                "Category": categories,
            },
            "CreationDateTime": format_instant(self.created_at),
        }
        if self.national_marking is not None:
            label["AlternativeConfidentialityInformation"] = {
                "PolicyIdentifier": self.national_marking.party,
                "Classification": str(self.national_marking),
            }
        return label

    def to_stanag4774_xml(self) -> str:
        """The label as a STANAG 4774 XML document (domain/stanag4774.py writes and reads the format)."""
        from gsomia.domain.stanag4774 import write_label  # the format's module builds on this one

        return write_label(self)

    # --- canonical form ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": LABEL_FORMAT,
            "originator": self.originator,
            "policy": self.policy,
            "classification": str(self.classification),
            "releasable_to": sorted(self.releasable_to),
            "topics": sorted(self.topics),
            "purpose": self.purpose,
            "rights_note": self.rights_note,
            "created_at": format_instant(self.created_at),
            "provider": self.provider,
            "national_marking": str(self.national_marking) if self.national_marking else None,
        }

    def canonical_bytes(self) -> bytes:
        """Deterministic bytes (sorted keys, no whitespace, UTF-8): what a seal binds."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any], schemes: Schemes) -> Label:
        try:
            classification = schemes.parse(str(data["classification"]))
            national = data.get("national_marking")
            originator = schemes.require_party(str(data["originator"]))
            releasable = frozenset(schemes.require_party(str(p)) for p in data.get("releasable_to", ()))
            purpose = str(data.get("purpose") or "")
            created = data.get("created_at")
            return cls(
                originator=originator,
                policy=str(data.get("policy") or originator),
                classification=classification,
                releasable_to=releasable,
                topics=frozenset(str(t) for t in data.get("topics", ())),
                purpose=purpose,
                created_at=parse_instant(created) if created else datetime.fromtimestamp(0).astimezone(),
                rights_note=str(data.get("rights_note") or ""),
                provider=schemes.require_party(str(data["provider"])) if data.get("provider") else None,
                national_marking=schemes.parse(str(national)) if national else None,
            )
        except KeyError as missing:
            raise DomainError(f"label is missing the field {missing.args[0]!r}") from None
        except TypeError as bad:
            raise DomainError(f"label has a field of the wrong type: {bad}") from None

    @classmethod
    def from_canonical(cls, data: bytes, schemes: Schemes) -> Label:
        try:
            parsed = json.loads(data.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as bad:
            raise DomainError(f"label bytes are not canonical JSON: {bad}") from None
        if not isinstance(parsed, dict) or parsed.get("format") != LABEL_FORMAT:
            raise DomainError(f"label bytes are not a {LABEL_FORMAT} label")
        return cls.from_dict(parsed, schemes)
