"""Builders shared by the feed tests: labels, officials, consents."""

from __future__ import annotations

from datetime import datetime, timezone

from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, Role
from gsomia.domain.schemes import Classification

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)



def make_label(classification: str = "II", releasable: tuple[str, ...] = ("KOR", "USA", "JPN"),
               topics: tuple[str, ...] = ("dprk-missile",), originator: str = "KOR") -> Label:
    return Label(originator=originator, policy=originator,
                 classification=Classification(originator, classification),
                 releasable_to=frozenset(releasable), topics=frozenset(topics),
                 purpose="missile warning", created_at=NOW)


def official(party: str, code: str, *roles: Role, topics: tuple[str, ...] = ("dprk-missile",),
             ident: str = "") -> Official:
    return Official(party=party, clearance=Classification(party, code), clearance_expires=None,
                    need_to_know=frozenset(topics), roles=frozenset(roles), id=ident or f"{party}-{code}")


def kor_consent_to_jpn() -> Consent:
    """KOR's standing written consent (T5) for the US hub to pass its missile tracks to JPN."""
    return Consent(by="KOR", to="JPN", topics=frozenset({"dprk-missile"}), id="kor-jpn-missile-standing")
