"""Which version of an agreement a node decides under: a digest of its baseline (the shipped data) and of
the agreement events it has applied, so that two partners can tell whether they hold the same rules.

    version = SHA-256("gsomia-agreement-version-1", baseline digest, each applied event's id and digest
                      (sorted by id), the versions of the agreements it rides on)

The baseline digest is over the agreement's canonical form (every field that the policy reads), so two
nodes shipped with different data differ too. A message a node decided under one version is never
decided under another: the receiver refuses it (G5, our own rule) with both versions in the reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from gsomia.domain.agreements import Agreement

VERSION_TAG = "gsomia-agreement-version-1"
Problem = tuple[str, str]


def agreement_fields(a: Agreement) -> dict[str, Any]:
    """Every field of an agreement as plain data (dates as dates): its canonical form, and what the edges show."""
    offset = a.timezone.utcoffset(None).total_seconds()
    sign, minutes = ("-" if offset < 0 else "+"), int(abs(offset)) // 60
    return {
        "id": a.id, "version": a.version, "title": a.title, "parties": sorted(a.parties), "binding": a.binding,
        "timezone": f"{sign}{minutes // 60:02d}:{minutes % 60:02d}",
        "rides_on": list(a.rides_on), "highest_tier": a.highest_tier.name,
        "scope_topics": sorted(a.scope_topics) if a.scope_topics is not None else None, "scope": a.scope_note,
        "direct_paths": sorted(sorted(p) for p in a.direct_paths),
        "relays": [{"from": r.origin, "to": r.to, "via": r.via, "consent_by": r.consent_by} for r in a.relays],
        "equivalence": [{"tier": row.tier.name, **{p: list(c) for p, c in sorted(row.codes.items())}}
                        for row in a.equivalence],
        "life": {"signed": a.life.signed, "signed_by": sorted(a.life.signed_by),
                 "notifications": dict(sorted(a.life.notifications.items())),
                 "entry_into_force": a.life.entry_into_force, "term_years": a.life.term_years,
                 "auto_renew": a.life.auto_renew, "renewal_years": a.life.renewal_years,
                 "notice_days": a.life.notice_days, "notice_reference": a.life.notice_reference},
        "notices": [{"id": n.id, "by": n.by, "kind": n.kind, "given": n.given, "suspended": n.suspended,
                     "resumed": n.resumed, "withdrawn": n.withdrawn, "note": n.note} for n in a.notices],
        "rule_ids": dict(sorted(a.rule_ids.items())),
    }


def canonical(data: Any) -> bytes:
    """Deterministic JSON (sorted keys, dates in ISO 8601, UTF-8): what a digest is taken over."""
    def plain(value: object) -> str:
        if isinstance(value, date):
            return value.isoformat()
        raise TypeError(f"no canonical form for {type(value).__name__}")

    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=plain).encode()


def digest_of(data: Any) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


@dataclass(frozen=True, slots=True)
class AgreementVersion:
    agreement: str
    digest: str
    baseline: str                          # the digest of the shipped data alone
    events: tuple[tuple[str, str], ...]    # (event id, event digest) of each applied event, by id

    @property
    def short(self) -> str:
        return self.digest[:12]

    def describe(self) -> str:
        """What this version is made of, in a sentence's words."""
        if not self.events:
            return "the shipped text alone"
        return "the shipped text and events " + ", ".join(event_id for event_id, _ in self.events)


def version_of(baseline: Agreement, applied: Iterable[tuple[str, str]],
               rides_on: Iterable[AgreementVersion] = ()) -> AgreementVersion:
    """The version of `baseline` with the events `applied` ((id, digest) each) and the agreements it rides on."""
    base = digest_of(agreement_fields(baseline))
    events = tuple(sorted(applied))
    digest = digest_of([VERSION_TAG, base, [list(e) for e in events], sorted(v.digest for v in rides_on)])
    return AgreementVersion(baseline.id, digest, base, events)


def version_problems(party: str, sender: str, claimed: tuple[str, str],
                     ours: tuple[Agreement, AgreementVersion] | None) -> list[Problem]:
    """G5: the agreement `sender` decided under (its id and version digest, as its message says) must bind the
    two and be held here at the same version; otherwise nothing is decided here under other rules.

    Only the version is compared, not which agreement governs here: a hub takes an item released under the
    arrangement as it would directly, and a third party takes a disclosure under its own agreement with the
    originator, while the sender decided under the agreement of its own path."""
    agreement_id, digest = claimed
    if not agreement_id or not digest:
        return [("G5", f"{sender} does not say under which version of which agreement it decided this: nothing"
                       " is decided here on a guess.")]
    if ours is None or not {party, sender} <= ours[0].parties:
        return [("G5", f"{sender} decided this under {agreement_id}, which does not bind {sender} and {party} here:"
                       " nothing is decided here under other rules.")]
    version = ours[1]
    if digest == version.digest:
        return []
    return [("G5", f"{sender} decided this under {agreement_id} version {digest[:12]}, {party} holds version"
                   f" {version.short} ({version.describe()}): the two nodes hold different versions of the"
                   " agreement, and nothing is decided here under other rules. Compare them with"
                   f" `gsomia agreements versions {agreement_id}`.")]
