"""A deterministic mix of release requests: mostly near-valid, each field sometimes wrong."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from gsomia.domain.catalog import Catalog
from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, OfficialStatus, Role
from gsomia.domain.requests import Action, Request
from gsomia.domain.schemes import Classification

TOPICS = ["dprk-missile", "dprk-nuclear", "army", "navy"]


def release_requests(catalog: Catalog, count: int, seed: int = 7) -> list[Request]:
    rng = random.Random(seed)
    parties = sorted(catalog.schemes.parties)
    levels = {p: [Classification(p, lv.code) for lv in catalog.schemes.scheme(p).levels] for p in parties}
    start = datetime(2014, 1, 1, tzinfo=timezone.utc)
    out = []
    for _ in range(count):
        origin = rng.choice(parties)
        recipient = rng.choice([p for p in parties if p != origin])
        topics = frozenset(rng.sample(TOPICS[:2] if rng.random() < 0.8 else TOPICS, rng.randint(1, 2)))
        item = Label(originator=origin, policy=origin, classification=rng.choice(levels[origin]),
                     releasable_to=frozenset({origin, recipient, "USA"}) if rng.random() < 0.9
                     else frozenset({origin}), topics=topics, purpose="missile warning" if rng.random() < 0.95 else "",
                     created_at=start)
        subject = Official(party=origin, clearance=rng.choice(levels[origin][:2]),
                           clearance_expires=None if rng.random() < 0.9 else start + timedelta(days=900),
                           need_to_know=topics | {"army"} if rng.random() < 0.9 else frozenset({"navy"}),
                           roles=frozenset({Role.RELEASING_OFFICIAL}), id=f"{origin.lower()}-official",
                           status=OfficialStatus.ACTIVE if rng.random() < 0.95 else OfficialStatus.SUSPENDED)
        at = start + timedelta(days=rng.randint(0, 365 * 12), seconds=rng.randint(0, 86399))
        consents = (Consent(by=origin, to=recipient, topics=topics),)
        out.append(Request(action=Action.RELEASE, at=at, subject=subject, item=item, recipient=recipient,
                           consents=consents))
    return out
