"""What a node does with a partner's agreement messages (services/inbound_handlers.py dispatches them here,
inside the savepoint `inbound` opened for the message; a refusal is a `Refused` with its Decision).

    agreement-event    a partner's recorded event: held as proposed until our security officer answers
    agreement-answer   a party's signed confirmation or rejection of an event; a rejection takes the event out
                       of what this node applies (the recording node passes it on to the other parties)
    agreement-version  the version of an agreement a partner holds now (to list where we differ)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from gsomia.domain.errors import DomainError
from gsomia.domain.requests import refusal
from gsomia.services.agreement_events import change, event_of, tell_parties, turn, version_message
from gsomia.services.context import Node
from gsomia.services.exchange_common import audit_note, node_actor
from gsomia.services.inbound_support import Details, Refused, signed
from gsomia.services.messages import AgreementAnswerMessage, AgreementEventMessage, AgreementVersionMessage
from gsomia.services.peer_messages import Envelope
from gsomia.services.record_bodies import AgreementAnswerBody, AgreementEventBody
from gsomia.storage.agreements import PROPOSED, REJECTED, AgreementEventRecord, EventAnswer, PeerVersion
from gsomia.storage.unit_of_work import UnitOfWork

PROPOSAL, ANSWER, VERSION = "agreement.event.proposed", "agreement.event.answer", "agreement.version"


def _unreadable(what: str, action: str, subject: str | None = None) -> Refused:
    return Refused(refusal(("G4",), f"{what}: it cannot be taken here."), action, subject[:64] if subject else None)


def on_agreement_event(node: Node, uow: UnitOfWork, envelope: Envelope, message: AgreementEventMessage,
                       now: datetime) -> Details:
    body, record = signed(node, message.record, AgreementEventBody, PROPOSAL, "R21.2")
    if record.signer.party != envelope.sender or body.origin != envelope.sender:
        raise _unreadable(f"the event is signed by {record.signer.party} and says it was recorded by {body.origin}",
                          PROPOSAL, body.agreement)
    try:
        received = AgreementEventRecord(
            body.id, body.agreement, body.kind, body.by, date.fromisoformat(body.given), _date(body.decided),
            body.reference, body.notice, body.amendment, body.origin, body.recorded_by,
            datetime.fromisoformat(body.recorded_at), body.digest, message.record, PROPOSED)
        event = event_of(received, node.live_catalog.baseline)
    except (DomainError, ValueError) as bad:
        raise _unreadable(f"the agreement event from {envelope.sender} does not read here ({bad})", PROPOSAL,
                          body.agreement) from None
    if event.digest != body.digest or received.recorded_at.tzinfo is None or len(body.recorded_by) > 64:
        raise _unreadable("the event's digest, time or officer does not read here", PROPOSAL, event.agreement)
    agreement = node.live_catalog.baseline.agreement(event.agreement)
    if not {node.party, envelope.sender} <= agreement.parties:
        raise Refused(refusal(("G3",), f"{agreement.id} does not bind {node.party} and {envelope.sender}."),
                      PROPOSAL, agreement.id)
    held = uow.agreements.get(event.id)
    if held is not None:
        if held.digest != event.digest:
            raise _unreadable(f"another event {event.id} is held here already", PROPOSAL, agreement.id)
        return {"event": event.id, "state": held.state}
    uow.agreements.add(received)
    audit_note(uow, now, node_actor(node), PROPOSAL, agreement.id, (event.rule,),
               f"{envelope.sender} recorded {event.describe()} ({event.id}): held as proposed until our security"
               " officer confirms or rejects it")
    return {"event": event.id, "state": PROPOSED}


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def on_agreement_answer(node: Node, uow: UnitOfWork, envelope: Envelope, message: AgreementAnswerMessage,
                        now: datetime) -> Details:
    body, record = signed(node, message.record, AgreementAnswerBody, ANSWER, "R21.2")
    if record.signer.party != body.party:
        raise _unreadable(f"the answer speaks for {body.party} but {record.signer.party} signed it", ANSWER)
    held = uow.agreements.get(body.event_id)
    if held is None or held.digest != body.digest:
        raise _unreadable(f"{body.party} answers event {body.event_id}, which is not held here as it was answered",
                          ANSWER, body.agreement)
    agreement = node.live_catalog.baseline.agreement(held.agreement)
    if body.party not in agreement.parties:
        raise Refused(refusal(("G3",), f"{body.party} is not a party to {agreement.id}: its answer counts for"
                                       " nothing here."), ANSWER, agreement.id)
    if envelope.sender not in (body.party, held.origin) or body.party == node.party:
        raise _unreadable(f"{envelope.sender} passes on {body.party}'s answer to an event {held.origin} recorded",
                          ANSWER, held.agreement)
    uow.agreements.answer(EventAnswer(held.id, body.party, body.confirmed, body.reason, now, message.record))
    verb = "confirmed" if body.confirmed else f"rejected it: {body.reason}"
    audit_note(uow, now, node_actor(node), ANSWER, held.agreement, ("R21.2" if held.kind == "amendment" else "R21.3",),
               f"{body.party} {verb} ({held.kind} {held.id})")
    if body.confirmed or held.state == REJECTED:
        return {"event": held.id, "state": held.state}
    if held.applied:  # no longer: the catalogue without it
        generation, applied = turn(uow, node)
        change(uow, node, generation, applied, [e for e in applied if e.id != held.id], now)
    uow.agreements.decide(held.id, state=REJECTED, by=body.party, at=now, reason=f"rejected by {body.party}: "
                          f"{body.reason}")
    if held.origin == node.party:  # ours: the other parties learn of the rejection too
        tell_parties(uow, node, agreement, message, now, besides=(body.party,))
    return {"event": held.id, "state": REJECTED}


def on_agreement_version(node: Node, uow: UnitOfWork, envelope: Envelope, message: AgreementVersionMessage,
                         now: datetime) -> Details:
    catalog = node.catalog
    try:
        agreement = catalog.agreement(message.agreement)
    except DomainError:
        agreement = None
    if agreement is None or not {node.party, envelope.sender} <= agreement.parties:
        raise Refused(refusal(("G3",), f"{message.agreement} does not bind {node.party} and {envelope.sender}"
                                       " here."), VERSION, message.agreement[:64])
    if len(message.event_ids) != len(message.event_digests):
        raise _unreadable("the version names its events and their digests unevenly", VERSION, agreement.id)
    uow.agreements.set_peer_version(PeerVersion(envelope.sender, agreement.id, message.digest, message.baseline,
                                                tuple(zip(message.event_ids, message.event_digests, strict=True)),
                                                now))
    ours = catalog.version(agreement.id)
    audit_note(uow, now, node_actor(node), VERSION, agreement.id, ("G5",),
               f"{envelope.sender} holds version {message.digest[:12]}; ours is {ours.short}"
               + ("" if message.digest == ours.digest else ": they differ"))
    # Ours in the signed answer: the sender learns what we hold without our telling it in a message of our own
    # (which, were the versions to differ, it would answer, and so on).
    mine = version_message(ours)
    return {"same": message.digest == ours.digest, "version": {
        "digest": mine.digest, "baseline": mine.baseline, "event_ids": list(mine.event_ids),
        "event_digests": list(mine.event_digests)}}


def on_version_answer(uow: UnitOfWork, peer: str, sent: AgreementVersionMessage, details: Mapping[str, Any],
                      now: datetime) -> bool:
    """A partner's signed answer to our version: the version it holds, as it says (an answer without one, or
    with one that does not read, tells nothing)."""
    version = details.get("version")
    if not isinstance(version, Mapping):
        return False
    digest, baseline = version.get("digest"), version.get("baseline")
    ids, digests = version.get("event_ids"), version.get("event_digests")
    if not (isinstance(digest, str) and isinstance(baseline, str) and isinstance(ids, list | tuple)
            and isinstance(digests, list | tuple) and len(ids) == len(digests)
            and all(isinstance(x, str) for x in (*ids, *digests))):
        return False
    uow.agreements.set_peer_version(PeerVersion(peer, sent.agreement, digest, baseline,
                                                tuple(zip(ids, digests, strict=True)), now))
    return True
