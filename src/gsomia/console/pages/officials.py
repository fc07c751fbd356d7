"""The register of cleared officials (R6.e, R7.2), kept by the security officer: appoint, change clearance
and need-to-know, suspend, reinstate, revoke, issue a personal token (shown once, on the page that answers
the form, never again). Every change is `services.officials`, audited there with its reason."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from gsomia.console import render
from gsomia.console.session import NodeDep, SessionDep, page_router
from gsomia.domain.officials import Role
from gsomia.services import access_review, console_sessions, officials, oversight
from gsomia.services.errors import InvalidInput

router = page_router()

Reason = Annotated[str, Form(min_length=1, max_length=2000)]
Roles = Annotated[list[str], Form()]
Day = Annotated[str, Form(max_length=10)]
Topics = Annotated[str, Form(max_length=2000)]  # may be empty: an official with need-to-know for nothing
TOPIC_SEPARATORS = ",;\n"


def _topics(text: str) -> list[str]:
    for separator in TOPIC_SEPARATORS[1:]:
        text = text.replace(separator, TOPIC_SEPARATORS[0])
    return [t.strip() for t in text.split(TOPIC_SEPARATORS[0]) if t.strip()]


def _expiry(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=timezone.utc)
    except ValueError:
        raise InvalidInput(f"clearance expiry {text!r} is not a date (YYYY-MM-DD)") from None


@router.get("/officials", response_class=HTMLResponse)
def register(request: Request, node: NodeDep, session: SessionDep) -> Response:
    return render.page(request, session, "officials.html", title="Officials", section="officials",
                       officials=officials.list_officials(node, session.actor),
                       levels=node.schemes.scheme(node.party).levels, roles=[r.value for r in Role if r != Role.NODE])


@router.post("/officials")
def appoint(node: NodeDep, session: SessionDep, name: Annotated[str, Form(min_length=1, max_length=200)],
            clearance: Annotated[str, Form(max_length=50)], reason: Reason, need_to_know: Topics = "",
            roles: Roles = [], expires: Day = "") -> Response:  # noqa: B006 - FastAPI form default
    record = officials.appoint(node, session.actor, name=name, clearance=clearance, granted=node.clock(),
                               expires=_expiry(expires), need_to_know=_topics(need_to_know), roles=roles,
                               reason=reason)
    console_sessions.flash(node, session, f"Appointed {record.official.name} ({record.official.id}). Issue a token"
                                          " for them below.")
    return render.redirect(f"/officials/{record.official.id}")


@router.get("/officials/{official_id}", response_class=HTMLResponse)
def official(request: Request, node: NodeDep, session: SessionDep, official_id: str) -> Response:
    record = officials.get(node, session.actor, official_id)
    return render.page(request, session, "official.html", title=f"Official {official_id}", section="officials",
                       record=record, changes=officials.history(node, session.actor, official_id),
                       levels=node.schemes.scheme(node.party).levels, roles=[r.value for r in Role if r != Role.NODE])


@router.get("/officials/{official_id}/access", response_class=HTMLResponse)
def access(request: Request, node: NodeDep, session: SessionDep, official_id: str) -> Response:
    """What the official may read here, item by item, and why not the rest (a review: audited, opens nothing)."""
    record = officials.get(node, session.actor, official_id)
    review = access_review.review(node, session.actor, official_id)
    labels = oversight.labels(node, [(None, i.item_id) for i in review.items])
    return render.page(request, session, "access.html", title=f"What {official_id} may read", section="officials",
                       labels=labels, record=record, review=review)


@router.post("/officials/{official_id}")
def change(node: NodeDep, session: SessionDep, official_id: str, clearance: Annotated[str, Form(max_length=50)],
           reason: Reason, need_to_know: Topics = "", roles: Roles = [], expires: Day = "") -> Response:  # noqa: B006
    officials.update(node, session.actor, official_id, reason=reason, clearance=clearance,
                     need_to_know=_topics(need_to_know), roles=roles, expires=_expiry(expires))
    console_sessions.flash(node, session, f"{official_id} changed; decisions about them are made afresh now.")
    return render.redirect(f"/officials/{official_id}")


@router.post("/officials/{official_id}/status")
def set_status(node: NodeDep, session: SessionDep, official_id: str,
               to: Annotated[str, Form(pattern="^(suspend|reinstate|revoke)$")], reason: Reason) -> Response:
    act = {"suspend": officials.suspend, "reinstate": officials.reinstate, "revoke": officials.revoke}[to]
    record = act(node, session.actor, official_id, reason=reason)
    console_sessions.flash(node, session, f"{official_id} is now {record.official.status.value}.")
    return render.redirect(f"/officials/{official_id}")


@router.post("/officials/{official_id}/token", response_class=HTMLResponse)
def issue_token(request: Request, node: NodeDep, session: SessionDep, official_id: str, reason: Reason) -> Response:
    """The token is on this page only: the node keeps its SHA-256, and the page is never cached."""
    issued = officials.issue_token(node, session.actor, official_id, reason=reason)
    return render.page(request, session, "token.html", title="Personal token", section="officials",
                       issued=issued, record=officials.get(node, session.actor, official_id))
