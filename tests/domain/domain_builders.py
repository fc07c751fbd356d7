"""Builders for policy requests in tests: sensible defaults, override what the test is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from gsomia.data import load_catalog
from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, Role
from gsomia.domain.requests import Action, Request
from gsomia.domain.schemes import Classification

CATALOG = load_catalog()
NOW = datetime(2024, 6, 1, 3, 0, tzinfo=timezone.utc)   # all four agreements in force, no notice pending
BEFORE_GSOMIA = datetime(2016, 11, 1, tzinfo=timezone.utc)
MISSILE = frozenset({"dprk-missile"})


def c(text: str) -> Classification:
    return CATALOG.schemes.parse(text)


def official(party: str = "KOR", clearance: str | None = None, roles: tuple[Role, ...] = (Role.RELEASING_OFFICIAL,),
             need_to_know: frozenset[str] = MISSILE, **kw: Any) -> Official:
    default = {"KOR": "KOR:II", "JPN": "JPN:GOKUHI", "USA": "USA:S"}[party]
    return Official(party=party, clearance=c(clearance or default), clearance_expires=kw.pop("expires", None),
                    need_to_know=need_to_know, roles=frozenset(roles), id=kw.pop("id", f"{party.lower()}-1"), **kw)


def label(originator: str = "KOR", classification: str = "KOR:II",
          releasable_to: tuple[str, ...] = ("JPN", "USA", "KOR"), topics: frozenset[str] = MISSILE,
          purpose: str = "missile warning", **kw: Any) -> Label:
    return Label(originator=originator, policy=originator, classification=c(classification),
                 releasable_to=frozenset(releasable_to), topics=topics, purpose=purpose,
                 created_at=kw.pop("created_at", NOW), **kw)


def held_by(item: Label, party: str, provider: str | None = None) -> Label:
    """The label as `party` keeps it after receipt (R4.4)."""
    marking = {"KOR": {"SECRET": "KOR:II", "CONFIDENTIAL": "KOR:III", "TOP_SECRET": "KOR:I"},
               "JPN": {"SECRET": "JPN:GOKUHI", "CONFIDENTIAL": "JPN:HI", "TOP_SECRET": "JPN:KIMITSU"},
               "USA": {"SECRET": "USA:S", "CONFIDENTIAL": "USA:C", "TOP_SECRET": "USA:TS"}}
    tier = CATALOG.schemes.level(item.classification).tier.name
    return item.received(provider or item.originator, c(marking[party][tier]))


def consent(by: str = "KOR", to: str = "JPN", topics: frozenset[str] | None = MISSILE, **kw: Any) -> Consent:
    return Consent(by=by, to=to, topics=topics, **kw)


def request(action: Action = Action.RELEASE, subject: Official | None = None, item: Label | None = None,
            recipient: str | None = "JPN", at: datetime = NOW, **kw: Any) -> Request:
    return Request(action=action, at=at, subject=subject or official(), item=item or label(),
                   recipient=recipient, **kw)


def with_subject(req: Request, **changes: Any) -> Request:
    return replace(req, subject=replace(req.subject, **changes))
