"""The agreements as the edges show them: plain JSON shapes shared by `gsomia agreements --json` and the API."""

from __future__ import annotations

from typing import Any

from gsomia.domain.agreements import Agreement
from gsomia.domain.life import Status


def status_dict(status: Status) -> dict[str, Any]:
    return {
        "agreement": status.agreement,
        "on": status.on.isoformat(),
        "state": status.state.value,
        "condition": status.condition,
        "in_force": status.in_force,
        "entered_into_force": status.entered_into_force,
        "terminates_on": status.terminates_on,
        "term_ends": status.term_ends,
        "notice_deadline": status.notice_deadline,
        "obligations_survive": status.obligations_survive,
        "notices": [{"id": n.notice.id, "by": n.notice.by, "kind": n.notice.kind, "state": n.state.value,
                     "given": n.notice.given, "takes_effect_on": n.takes_effect_on} for n in status.notices],
    }


def agreement_dict(a: Agreement) -> dict[str, Any]:
    return {
        "id": a.id, "version": a.version, "title": a.title, "parties": sorted(a.parties), "binding": a.binding,
        "rides_on": list(a.rides_on), "highest_tier": a.highest_tier.name,
        "scope_topics": sorted(a.scope_topics) if a.scope_topics is not None else None, "scope": a.scope_note,
        "direct_paths": sorted(sorted(p) for p in a.direct_paths),
        "relays": [{"from": r.origin, "to": r.to, "via": r.via, "consent_by": r.consent_by} for r in a.relays],
        "equivalence": [{"tier": row.tier.name, **{p: list(c) for p, c in row.codes.items()}}
                        for row in a.equivalence],
        "life": {"signed": a.life.signed, "signed_by": sorted(a.life.signed_by),
                 "notifications": dict(a.life.notifications), "term_years": a.life.term_years,
                 "auto_renew": a.life.auto_renew, "notice_days": a.life.notice_days,
                 "notice_reference": a.life.notice_reference},
        "notices": [{"id": n.id, "by": n.by, "kind": n.kind, "given": n.given, "suspended": n.suspended,
                     "resumed": n.resumed, "withdrawn": n.withdrawn, "note": n.note} for n in a.notices],
    }
