"""Sign-in, sign-out and the dashboard: what the agreements allow today and what waits for the officer."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gsomia.console import render
from gsomia.console.errors import sign_in_page
from gsomia.console.session import (
    SIGN_IN_COOKIE,
    SIGN_IN_PATH,
    NodeDep,
    SessionDep,
    cleared,
    page_router,
    session_cookie,
    session_of,
)
from gsomia.services import affordances, console_sessions, oversight, visibility
from gsomia.services.throttle import FailedAuthentications

router = page_router()


@router.get(SIGN_IN_PATH, response_class=HTMLResponse)
async def sign_in_form(request: Request) -> Response:
    if await session_of(request) is not None:
        return render.redirect("/")
    return sign_in_page(request, reason=getattr(request.state, "ended", None), status=200)


@router.post(SIGN_IN_PATH)
async def sign_in(request: Request, node: NodeDep, token: Annotated[str, Form(max_length=200)]) -> Response:
    """A personal token opens a session; a failure is audited (officials.authenticate) and throttled per
    address together with the API's."""
    failures = cast(FailedAuthentications, request.app.state.failed_authentications)
    caller = request.client.host if request.client is not None else "unknown"
    session = await run_in_threadpool(console_sessions.sign_in, node, token.strip(), caller=caller,
                                      throttle=failures)
    response = RedirectResponse(f"{render.BASE}/", status_code=303)
    response.headers.append("set-cookie", session_cookie(session.secret))
    response.headers.append("set-cookie", cleared(SIGN_IN_COOKIE))
    return response


@router.post("/sign-out")
def sign_out(node: NodeDep, session: SessionDep) -> Response:
    console_sessions.sign_out(node, session)
    response = RedirectResponse(f"{render.BASE}{SIGN_IN_PATH}", status_code=303)
    response.headers.append("set-cookie", cleared("__Host-gsomia-console"))
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, node: NodeDep, session: SessionDep) -> Response:
    actor = session.actor
    context: dict[str, Any] = {"agreements": oversight.agreements_today(node), "officer": False}
    named: list[tuple[str | None, str]] = []
    if affordances.keeps_register(actor):
        ours, theirs = oversight.recalls(node, actor)
        consents = oversight.consents(node, actor, state="requested")
        reports = [r for r in oversight.reports(node, actor) if r.open or r.overdue]
        recalls = [r for r in ours if r.awaiting]
        context.update(
            officer=True, to_answer=[c for c in consents if c.by_party == node.party],
            awaited=[c for c in consents if c.requested_by == node.party and c.by_party != node.party],
            reports=reports, recalls=recalls, recall_requests=theirs,
            deliveries=oversight.deliveries(node, actor), audit=oversight.audit_standing(node, actor))
        named += [(c.by_party, c.item_ref) for c in consents if c.item_ref]
        named += [(r.report.originator, r.report.item_ref) for r in reports]
        named += [(None, r.item_id) for r in recalls] + [(None, r.item.id) for r in theirs]
    else:
        context["readable"] = len(visibility.visible_items(node, actor, limit=1000))
    return render.page(request, session, "dashboard.html", title="Dashboard", section="dashboard",
                       labels=oversight.labels(node, named), **context)
