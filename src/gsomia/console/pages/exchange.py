"""Cross-border acts in the browser: release and disclose (the policy's answer shown before the official
confirms), consent requests and answers, standing consents, compromise reports and results, recalls.

The dialog's answer is `services.exchange.preview_release` / `preview_disclose`: the very request the use
case will put to the policy, asked as a what-if. Confirming calls the use case, which decides again and
audits, allowed or refused.
"""

from __future__ import annotations

from datetime import datetime, time, timezone
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from gsomia.console import render
from gsomia.console.session import NodeDep, SessionDep, page_router
from gsomia.domain.labels import Label
from gsomia.services import console_sessions, exchange, listings, oversight, visibility
from gsomia.services.errors import InvalidInput

router = page_router()

Party = Annotated[str, Form(pattern="^[A-Z]{3}$")]
Via = Annotated[str, Form(pattern="^([A-Z]{3})?$")]
Text = Annotated[str, Form(min_length=1, max_length=5000)]


def _until(text: str) -> datetime | None:
    """A date typed in a form (YYYY-MM-DD): valid until the end of that day, UTC."""
    if not text.strip():
        return None
    try:
        return datetime.combine(datetime.fromisoformat(text.strip()).date(), time.max, tzinfo=timezone.utc)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _dialog(request: Request, node: NodeDep, session: SessionDep, item_id: str, *, act: str, to: str,
            via: str | None) -> Response:
    item = visibility.visible_item(node, session.actor, item_id, f"item.{act}.preview")
    label = Label.from_canonical(item.label_bytes, node.schemes)
    decision = (exchange.preview_release(node, session.actor, item_id, to, via=via) if act == "release"
                else exchange.preview_disclose(node, session.actor, item_id, to))
    return render.page(request, session, "decision.html", title=f"{act.capitalize()} {item_id} to {to}",
                       section="items", labels=[label], item=item, label=label, act=act, to=to, via=via or "",
                       decision=decision, schemes=node.schemes)


@router.post("/items/{item_id}/release/preview", response_class=HTMLResponse)
def release_preview(request: Request, node: NodeDep, session: SessionDep, item_id: str, to: Party,
                    via: Via = "") -> Response:
    return _dialog(request, node, session, item_id, act="release", to=to, via=via or None)


@router.post("/items/{item_id}/disclose/preview", response_class=HTMLResponse)
def disclose_preview(request: Request, node: NodeDep, session: SessionDep, item_id: str, to: Party) -> Response:
    return _dialog(request, node, session, item_id, act="disclose", to=to, via=None)


@router.post("/items/{item_id}/release")
async def release(node: NodeDep, session: SessionDep, item_id: str, to: Party, via: Via = "") -> Response:
    message = await node.write(exchange.release, node, session.actor, item_id, to, via=via or None)
    await node.write(console_sessions.flash, node, session, f"Released {item_id} to {to}"
                     + (f" via {via}" if via else "") + f": message {message} queued for delivery.")
    return render.redirect(f"/items/{item_id}")


@router.post("/items/{item_id}/disclose")
async def disclose(node: NodeDep, session: SessionDep, item_id: str, to: Party) -> Response:
    message = await node.write(exchange.disclose, node, session.actor, item_id, to)
    await node.write(console_sessions.flash, node, session, f"Disclosed {item_id} to {to} with the originator's"
                                                            f" written consent: message {message} queued.")
    return render.redirect(f"/items/{item_id}")


@router.post("/items/{item_id}/consent-request")
async def request_consent(node: NodeDep, session: SessionDep, item_id: str, to: Party, purpose: Text) -> Response:
    consent = await node.write(exchange.request_consent, node, session.actor, item_id, to, purpose)
    await node.write(console_sessions.flash, node, session, f"Consent {consent} asked of the originator (R6.a).")
    return render.redirect(f"/items/{item_id}")


@router.post("/items/{item_id}/compromise")
async def report_compromise(node: NodeDep, session: SessionDep, item_id: str, description: Text) -> Response:
    report_id = await node.write(exchange.report_compromise, node, session.actor, item_id, description)
    report = await node.read(listings.report, node, session.actor, report_id)
    told = f"{report.originator}, the provider, is told at once" if report.notice_owed else "the item is our own"
    await node.write(console_sessions.flash, node, session, f"Compromise report {report_id} recorded; {told} (R17.1).")
    return render.redirect("/reports" if visibility.sees_everything(session.actor) else f"/items/{item_id}")


@router.post("/items/{item_id}/recall")
async def recall(node: NodeDep, session: SessionDep, item_id: str, reason: Text) -> Response:
    holders = await node.write(exchange.recall, node, session.actor, item_id, reason)
    sent_to = ", ".join(holders) or "nobody"
    await node.write(console_sessions.flash, node, session, f"Recall of {item_id} sent to {sent_to} (R6.h);"
                                                            " their certificates are awaited.")
    return render.redirect(f"/items/{item_id}")


@router.get("/consents", response_class=HTMLResponse)
def consents(request: Request, node: NodeDep, session: SessionDep) -> Response:
    found = oversight.consents(node, session.actor)
    named = oversight.labels(node, [(c.by_party, c.item_ref) for c in found if c.item_ref])
    return render.page(request, session, "consents.html", title="Consents", section="consents", labels=named,
                       to_answer=[c for c in found if c.state == "requested" and c.by_party == node.party],
                       others=[c for c in found if not (c.state == "requested" and c.by_party == node.party)],
                       parties=sorted(node.partners.by_party))


@router.post("/consents/{consent_id}/{answer}")
async def answer(node: NodeDep, session: SessionDep, consent_id: str, answer: str,
                 until: Annotated[str, Form(max_length=10)] = "",
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    if answer not in ("grant", "refuse"):
        raise InvalidInput("answer a consent request with grant or refuse")
    record = await node.write(exchange.answer_consent, node, session.actor, consent_id, grant=answer == "grant",
                              until=_until(until), reason=reason)
    await node.write(console_sessions.flash, node, session, f"Consent {consent_id} {record.state}"
                     + (": signed and sent to the requester (R6.a, T5)." if record.state == "granted" else "."))
    return render.redirect("/consents")


@router.post("/consents")
async def standing_consent(node: NodeDep, session: SessionDep, to: Party,
                           topics: Annotated[str, Form(min_length=1, max_length=2000)], purpose: Text,
                           until: Annotated[str, Form(max_length=10)] = "") -> Response:
    wanted = [t.strip() for t in topics.split(",") if t.strip()]
    record = await node.write(exchange.grant_standing_consent, node, session.actor, to, wanted, until=_until(until),
                              purpose=purpose)
    await node.write(console_sessions.flash, node, session, f"Standing consent {record.id} for {to} given (T5).")
    return render.redirect("/consents")


@router.get("/reports", response_class=HTMLResponse)
def reports(request: Request, node: NodeDep, session: SessionDep) -> Response:
    found = oversight.reports(node, session.actor)
    named = oversight.labels(node, [(r.report.originator, r.report.item_ref) for r in found])
    return render.page(request, session, "reports.html", title="Compromise reports", section="reports", labels=named,
                       reports=found)


@router.post("/reports/{report_id}/result")
async def report_result(node: NodeDep, session: SessionDep, report_id: str, result: Text) -> Response:
    await node.write(exchange.report_result, node, session.actor, report_id, result)
    report = await node.read(listings.report, node, session.actor, report_id)
    sent = f" and sent to {report.originator}" if report.notice_owed else ""
    await node.write(console_sessions.flash, node, session, f"Result of {report_id} recorded{sent} (R17.1).")
    return render.redirect("/reports")
