"""The agreements as the edges show them: plain JSON shapes shared by `gsomia agreements --json` and the API."""

from __future__ import annotations

from typing import Any

from gsomia.domain.agreements import Agreement
from gsomia.domain.life import Status
from gsomia.domain.versions import agreement_fields


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
    """Every field, as the version digest reads them (domain/versions.py)."""
    return agreement_fields(a)
