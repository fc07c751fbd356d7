"""Cross-border actions of officials: release (R6.a, T4, T5), disclosure with written consent (R6.a),
consent requests and answers, compromise reports (R17.1), recall (R6.h), the outbox, checkpoint exchange.

Each call records its decision and the message for the partner in one transaction; delivery follows
asynchronously (202 Accepted) and its outcome shows in the item's history and in `/v1/outbox`. The
writing calls run on the node's writer (storage/writer.py): concurrent ones share a transaction and
its durable commit, and each is answered once that commit is on stable storage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from gsomia.api.auth import ActorDep, NodeDep
from gsomia.api.errors import decision_parts, responses, status_and_code
from gsomia.api.schemas import ErrorBody, In, Instant
from gsomia.api.vocabulary import Party
from gsomia.services import delivery, exchange, listings
from gsomia.storage.exchange import CompromiseReport, ConsentRecord, InboxEntry

router = APIRouter(tags=["exchange"], responses=responses(400, 403, 404, 409))



class ReleaseIn(In):
    to: Party
    via: Party | None = Field(None, description="the hub, for paths that must go through one (T4)")


MAX_RELEASES = 200


class ReleaseItemIn(ReleaseIn):
    item_id: str = Field(min_length=1, max_length=64)


class ReleasesIn(In):
    releases: list[ReleaseItemIn] = Field(min_length=1, max_length=MAX_RELEASES)


class DiscloseIn(In):
    to: Party


class ConsentRequestIn(In):
    to: Party
    purpose: str = Field(min_length=1, max_length=2000)


class ConsentAnswerIn(In):
    until: Instant | None = None
    reason: str = Field("", max_length=2000)


class StandingConsentIn(In):
    to: Party
    topics: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=50)
    until: Instant | None = None
    purpose: str = Field(min_length=1, max_length=2000)


class ReportIn(In):
    description: str = Field(min_length=1, max_length=5000)


class ResultIn(In):
    result: str = Field(min_length=1, max_length=5000)


class RecallIn(In):
    reason: str = Field(min_length=1, max_length=2000)


class Queued(BaseModel):
    message_id: str


class ReleaseOutcome(BaseModel):
    """One release of a batch: queued (message_id), or stopped with the error a single release would get."""
    item_id: str
    to: str
    status: int = Field(description="202 queued; otherwise the HTTP status a single release would have had")
    message_id: str | None = None
    error: ErrorBody | None = None


class ReleasesOut(BaseModel):
    queued: int
    outcomes: list[ReleaseOutcome]


class ConsentOut(BaseModel):
    id: str
    by: str
    to: str
    item_ref: str | None
    topics: list[str] | None
    until: datetime | None
    requested_by: str | None
    purpose: str
    state: str
    granted_at: datetime | None


class ReportOut(BaseModel):
    id: str
    direction: str
    originator: str
    item_ref: str
    reporter: str
    description: str
    reported_at: datetime
    notice_due: datetime
    notified_at: datetime | None
    result_due: datetime
    result: str | None
    overdue: list[str]


class OutboxOut(BaseModel):
    message_id: str
    peer: str
    kind: str
    item_id: str | None
    state: str = Field(description="pending (still being delivered), delivered or refused (both final)")
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    flagged_at: datetime | None = Field(description="set when delivery has been failing for too long"
                                                    " (delivery_flag_after_s); the message is still retried")


class InboxOut(BaseModel):
    message_id: str
    peer: str
    kind: str
    received_at: datetime
    outcome: str = Field(description="accepted, or refused (with the signed refusal's rules and reasons)")


def _inbox(m: InboxEntry) -> InboxOut:
    return InboxOut(message_id=m.message_id, peer=m.peer, kind=m.kind, received_at=m.received_at, outcome=m.outcome)


def _consent(c: ConsentRecord) -> ConsentOut:
    return ConsentOut(id=c.id, by=c.by_party, to=c.to_party, item_ref=c.item_ref,
                      topics=list(c.topics) if c.topics is not None else None, until=c.until,
                      requested_by=c.requested_by, purpose=c.purpose, state=c.state, granted_at=c.granted_at)


def _report(r: CompromiseReport, now: datetime) -> ReportOut:
    return ReportOut(id=r.id, direction=r.direction, originator=r.originator, item_ref=r.item_ref,
                     reporter=r.reporter, description=r.description, reported_at=r.reported_at,
                     notice_due=r.notice_due, notified_at=r.notified_at, result_due=r.result_due, result=r.result,
                     overdue=r.overdue(now))


@router.post("/v1/items/{item_id}/release", status_code=status.HTTP_202_ACCEPTED, response_model=Queued,
             responses=responses(400, 403, 404, 409))
async def release(node: NodeDep, actor: ActorDep, item_id: str, body: ReleaseIn) -> Queued:
    """Release our item to a partner, directly or through a hub with our written consent (R6.a, T4, T5)."""
    return Queued(message_id=await node.write(exchange.release, node, actor, item_id, body.to, via=body.via))


@router.post("/v1/releases", response_model=ReleasesOut, responses=responses(400))
async def release_many(node: NodeDep, actor: ActorDep, body: ReleasesIn) -> ReleasesOut:
    """Release several of our items at once (one transaction): each is decided, audited and queued as a
    single release would be, and a refused or unknown one stops only itself (R6.a, T4, T5)."""
    wanted = [exchange.Release(r.item_id, r.to, r.via) for r in body.releases]
    outcomes = []
    for one, outcome in zip(wanted, await node.write(exchange.release_many, node, actor, wanted),
                            strict=True):
        if isinstance(outcome, str):
            outcomes.append(ReleaseOutcome(item_id=one.item_id, to=one.to, status=202, message_id=outcome))
            continue
        status_code, code = status_and_code(outcome)
        rules, reasons = decision_parts(outcome) if status_code == 403 else ((), ())
        outcomes.append(ReleaseOutcome(item_id=one.item_id, to=one.to, status=status_code, error=ErrorBody(
            code=code, message=str(outcome), rules=list(rules), reasons=list(reasons))))
    return ReleasesOut(queued=sum(o.status == 202 for o in outcomes), outcomes=outcomes)


@router.post("/v1/items/{item_id}/disclose", status_code=status.HTTP_202_ACCEPTED, response_model=Queued,
             responses=responses(400, 403, 404))
async def disclose(node: NodeDep, actor: ActorDep, item_id: str, body: DiscloseIn) -> Queued:
    """Pass a partner's item to a third party: refused without the originator's written consent (R6.a)."""
    return Queued(message_id=await node.write(exchange.disclose, node, actor, item_id, body.to))


@router.post("/v1/items/{item_id}/consent-requests", status_code=status.HTTP_202_ACCEPTED,
             response_model=ConsentOut, responses=responses(400, 404))
async def request_consent(node: NodeDep, actor: ActorDep, item_id: str,
                          body: ConsentRequestIn) -> ConsentOut:
    """Ask the originator for written consent to pass its item to a third party (R6.a)."""

    def requested() -> ConsentOut:
        consent_id = exchange.request_consent(node, actor, item_id, body.to, body.purpose)
        with node.store.unit_of_work(readonly=True) as uow:
            record = uow.exchange.consent(consent_id)
        assert record is not None
        return _consent(record)

    return await node.write(requested)


@router.get("/v1/consents", response_model=list[ConsentOut])
def list_consents(node: NodeDep, actor: ActorDep,
                  state: Annotated[str | None, Query(pattern="^(requested|granted|refused)$")] = None,
                  ) -> list[ConsentOut]:
    """Consents asked of us, asked by us, and given (R6.a, T5)."""
    return [_consent(c) for c in listings.consents(node, actor, state=state)]


@router.post("/v1/consents", status_code=status.HTTP_201_CREATED, response_model=ConsentOut,
             responses=responses(400, 403))
async def standing_consent(node: NodeDep, actor: ActorDep, body: StandingConsentIn) -> ConsentOut:
    """A standing written approval for a scope of topics: e.g. the hub may pass our items to `to` (T5)."""
    return _consent(await node.write(exchange.grant_standing_consent, node, actor, body.to, body.topics,
                                     until=body.until, purpose=body.purpose))


@router.post("/v1/consents/{consent_id}/grant", response_model=ConsentOut, responses=responses(403, 404, 409))
async def grant(node: NodeDep, actor: ActorDep, consent_id: str,
                body: ConsentAnswerIn) -> ConsentOut:
    """The originator's security officer grants: a signed consent, scoped to the item and recipient (R6.a)."""
    return _consent(await node.write(exchange.answer_consent, node, actor, consent_id, grant=True,
                                     until=body.until, reason=body.reason))


@router.post("/v1/consents/{consent_id}/refuse", response_model=ConsentOut, responses=responses(403, 404, 409))
async def refuse(node: NodeDep, actor: ActorDep, consent_id: str,
                 body: ConsentAnswerIn) -> ConsentOut:
    """The originator's security officer refuses (R6.a)."""
    return _consent(await node.write(exchange.answer_consent, node, actor, consent_id, grant=False,
                                     reason=body.reason))


@router.post("/v1/items/{item_id}/compromise", status_code=status.HTTP_202_ACCEPTED, response_model=ReportOut,
             responses=responses(400, 404))
async def report_compromise(node: NodeDep, actor: ActorDep, item_id: str,
                            body: ReportIn) -> ReportOut:
    """Loss or compromise, actual or possible: the provider is informed immediately (R17.1)."""

    def reported() -> ReportOut:
        return _one_report(node, exchange.report_compromise(node, actor, item_id, body.description))

    return await node.write(reported)


@router.post("/v1/reports/{report_id}/result", response_model=ReportOut, responses=responses(404))
async def report_result(node: NodeDep, actor: ActorDep, report_id: str,
                        body: ResultIn) -> ReportOut:
    """The investigation's result and measures against recurrence, to the provider (R17.1)."""

    def reported() -> ReportOut:
        exchange.report_result(node, actor, report_id, body.result)
        return _one_report(node, report_id)

    return await node.write(reported)


@router.get("/v1/reports", response_model=list[ReportOut])
def list_reports(node: NodeDep, actor: ActorDep) -> list[ReportOut]:
    """Compromise reports made and received, with overdue notices and results flagged (R17.1)."""
    now = node.clock()
    return [_report(r, now) for r in listings.reports(node, actor)]


def _one_report(node: Any, report_id: str) -> ReportOut:
    with node.store.unit_of_work(readonly=True) as uow:
        report = uow.exchange.report(report_id)
    assert report is not None
    return _report(report, node.clock())


@router.post("/v1/items/{item_id}/recall", status_code=status.HTTP_202_ACCEPTED, response_model=list[str],
             responses=responses(400, 403, 404))
async def recall(node: NodeDep, actor: ActorDep, item_id: str, body: RecallIn) -> list[str]:
    """Ask every holder, also those reached through a hub, to return or destroy the item (R6.h)."""
    return await node.write(exchange.recall, node, actor, item_id, body.reason)


@router.get("/v1/outbox", response_model=list[OutboxOut])
def outbox(node: NodeDep, actor: ActorDep,
           state: Annotated[str | None, Query(pattern="^(pending|delivered|refused)$")] = None) -> list[OutboxOut]:
    """Messages to partners and how their delivery stands; those failing too long are flagged."""
    return [OutboxOut(message_id=m.message_id, peer=m.peer, kind=m.kind, item_id=m.item_id, state=m.state,
                      attempts=m.attempts, last_error=m.last_error, created_at=m.created_at,
                      delivered_at=m.delivered_at, flagged_at=m.flagged_at)
            for m in delivery.outbox(node, actor, state=state)]


@router.get("/v1/inbox", response_model=list[InboxOut])
def inbox(node: NodeDep, actor: ActorDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[InboxOut]:
    """Partners' messages handled here, newest first, with the answer each was given (accepted or refused)."""
    return [_inbox(m) for m in listings.inbox(node, actor, limit=limit)]


@router.post("/v1/audit/checkpoints/exchange", status_code=status.HTTP_202_ACCEPTED, response_model=int)
async def exchange_checkpoint(node: NodeDep, actor: ActorDep) -> int:
    """Sign our audit head and send it to every partner (mutual audit)."""
    return await node.write(exchange.exchange_checkpoint, node, actor)
