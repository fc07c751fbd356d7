"""The life of an agreement as live, signed, shared records: a security officer records a notice of
termination, its suspension, the lifting of a suspension, a withdrawal or an amendment; the node signs it,
audits it, applies it at once and proposes it to the other parties of the agreement, whose own security
officer confirms it (then their node applies it) or rejects it with a reason that comes back (then it
counts nowhere: the recording node takes it back out, and tells the other parties).

    record_notice, record_amendment   our officer records an event: applied here at once (state recorded)
    confirm, reject                   our officer answers a partner's event (proposed → confirmed | rejected)
    events, versions                  what is recorded, proposed, confirmed, rejected; where partners differ
    load, refresh                     the node's catalogue from the store (at start; polled while running)

Every change of what a node applies bumps the store's generation, installs the new catalogue as soon as
it is committed (services/live_catalog.py: the catalogue's memos and the feed's gates forget what they
decided) and tells
the other parties the node's new version of each agreement it changed (`agreement-version`), so both sides
can list where they differ. The partners' messages are handled in services/agreement_inbound.py.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from gsomia.domain.agreement_events import (
    NOTICE_ACTS,
    AgreementEvent,
    EventKind,
    build_catalog,
    current_notice,
    decide_recording,
    event_from_dict,
)
from gsomia.domain.agreements import Agreement
from gsomia.domain.catalog import Catalog
from gsomia.domain.errors import DomainError, UnknownAgreement
from gsomia.domain.requests import Decision
from gsomia.domain.versions import AgreementVersion
from gsomia.services import record_bodies
from gsomia.services.context import Actor, Node
from gsomia.services.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from gsomia.services.exchange_common import audit_decision, audit_note, enqueue, node_actor, refused
from gsomia.services.messages import AgreementAnswerMessage, AgreementEventMessage, AgreementVersionMessage
from gsomia.services.record_bodies import AgreementAnswerBody, AgreementEventBody
from gsomia.storage.agreements import (
    CONFIRMED,
    PROPOSED,
    RECORDED,
    REJECTED,
    AgreementEventRecord,
    EventAnswer,
    PeerVersion,
)
from gsomia.storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class EventView:
    """An event as this node holds it, with the other parties' answers."""
    record: AgreementEventRecord
    answers: tuple[EventAnswer, ...]

    @property
    def amendment(self) -> dict[str, Any] | None:
        return json.loads(self.record.amendment) if self.record.amendment else None


def ordering_key(agreement_id: str) -> str:
    """The outbox's ordering key (its item column, at most 40 characters) for messages about one agreement:
    to each partner they leave in the order they were written."""
    return f"agreement:{agreement_id}"[:40]


# --- recording ----------------------------------------------------------------------------------------------


def record_notice(node: Node, actor: Actor, agreement_id: str, *, by: str, kind: str, given: date, reference: str,
                  decided: date | None = None, notice: str | None = None) -> EventView:
    """A notice of termination, its suspension, the lifting of the suspension or its withdrawal (R21.3),
    given by `by` on `given`; a suspension, lifting or withdrawal concerns `notice` (default: `by`'s latest
    notice of termination not withdrawn)."""
    agreement = _agreement(node.catalog, agreement_id)
    if kind == EventKind.AMENDMENT.value or kind not in {k.value for k in EventKind}:
        raise InvalidInput(f"kind must be one of termination, suspension, lifting, withdrawal (not {kind!r});"
                           " an amendment is recorded with `amend`")
    if EventKind(kind) in NOTICE_ACTS and notice is None:
        notice = current_notice(agreement, by)
        if notice is None:
            raise InvalidInput(f"{by} has no notice of termination of {agreement.id} in force here to act on")
    data = {"id": _new_event_id(node, kind), "agreement": agreement.id, "kind": kind, "by": by, "given": given,
            "decided": decided, "reference": reference, "notice": notice}
    return _record(node, actor, agreement, data)


def record_amendment(node: Node, actor: Actor, agreement_id: str, *, given: date, reference: str,
                     decided: date | None = None, add_rows: Sequence[dict[str, Any]] = (),
                     highest_tier: str | None = None) -> EventView:
    """New terms by mutual written consent (R21.2), in force since `given`: rows added to the equivalence
    table (`{"tier": "SECRET", "KOR": ["II"], "JPN": ["GOKUHI"]}`), or another highest level."""
    agreement = _agreement(node.catalog, agreement_id)
    data = {"id": _new_event_id(node, "amendment"), "agreement": agreement.id, "kind": "amendment",
            "by": node.party, "given": given, "decided": decided, "reference": reference,
            "amendment": {"add_rows": [dict(r) for r in add_rows], "highest_tier": highest_tier}}
    return _record(node, actor, agreement, data)


def _new_event_id(node: Node, kind: str) -> str:
    return f"{node.party}-{kind}-{secrets.token_hex(6)}"


def _record(node: Node, actor: Actor, agreement: Agreement, data: dict[str, Any]) -> EventView:
    at = node.clock()
    allowed = _authorised(node, actor, agreement, f"a {data['kind']} of {agreement.id}",
                          "R21.2" if data["kind"] == "amendment" else "R21.3", at)
    baseline = node.live_catalog.baseline
    event = event_from_dict(data, baseline)
    today = at.astimezone(agreement.timezone).date()
    if event.given > today:
        raise InvalidInput(f"given {event.given} is after today ({today} in {agreement.id}'s time zone): an event"
                           " is recorded once it has happened")
    with node.store.unit_of_work() as uow:
        generation, applied = turn(uow, node)
        record = _signed_event(node, actor, event, at)
        uow.agreements.add(AgreementEventRecord(
            event.id, event.agreement, event.kind.value, event.by, event.given, event.decided, event.reference,
            event.notice, _amendment_json(event), node.party, actor.official.id, at, event.digest, record, RECORDED))
        told = _tell_parties(uow, node, agreement, AgreementEventMessage(record), at, rule=event.rule)
        change(uow, node, generation, applied, [*applied, event], at)  # DomainError if it does not fit
        audit_decision(uow, at, actor, f"agreement.{event.kind.value}", agreement.id, Decision(
            True, allowed.rules, (*allowed.reasons, f"Recorded and applied: {event.describe()} ({event.id});"
                                  f" proposed to {', '.join(told) or 'no partner'}."), agreement.id))
        view = EventView(_required(uow, event.id), ())
    return view


def turn(uow: UnitOfWork, node: Node) -> tuple[int, list[AgreementEvent]]:
    """First in a transaction that changes what a node applies: a new generation (on PostgreSQL this takes
    the transaction's turn), then the events applied now, as the previous such transaction left them."""
    generation = uow.agreements.bump()
    return generation, _applied(uow, node.live_catalog.baseline)


def change(uow: UnitOfWork, node: Node, generation: int, before: Sequence[AgreementEvent],
           after: Sequence[AgreementEvent], at: datetime) -> Catalog:
    """The node applies `after` instead of `before`: the new catalogue (DomainError if the events do not
    fit), our new versions announced to the other parties, and the catalogue installed once the
    transaction is committed (never if it is rolled back)."""
    baseline = node.live_catalog.baseline
    built = build_catalog(baseline, after)
    announce_changes(uow, node, build_catalog(baseline, before), built, at)

    def install() -> None:
        node.live_catalog.install(built, generation)

    uow.on_commit(install)
    return built


def _authorised(node: Node, actor: Actor, agreement: Agreement, what: str, rule: str, at: datetime) -> Decision:
    """Only this node's security officer records or answers an agreement event; a refusal is audited."""
    decision = decide_recording(actor.official, node.party, agreement, what, rule)
    if not decision.allowed:
        with node.store.unit_of_work() as uow:
            audit_decision(uow, at, actor, "agreement.event", agreement.id, decision)
        raise refused(decision)
    return decision


def _tell_parties(uow: UnitOfWork, node: Node, agreement: Agreement, message: AgreementEventMessage
                  | AgreementAnswerMessage | AgreementVersionMessage, at: datetime,
                  besides: Iterable[str] = (), rule: str = "R21.2") -> list[str]:
    """`message` to every other party of the agreement that is a configured partner; the others are named
    in the audit trail as not told."""
    told, untold = [], []
    for party in sorted(agreement.parties - {node.party, *besides}):
        if node.partners.get(party) is None:
            untold.append(party)
            continue
        enqueue(uow, at, party, message, ordering_key(agreement.id))
        told.append(party)
    if untold and not isinstance(message, AgreementVersionMessage):
        audit_note(uow, at, node_actor(node), f"peer.{message.kind}", agreement.id, (rule,),
                   f"{', '.join(untold)}: not a configured partner node, not told (see `gsomia peers add`)")
    return told


def announce_changes(uow: UnitOfWork, node: Node, before: Catalog, after: Catalog, at: datetime) -> None:
    """Our new version of every agreement whose version changed, to its other parties."""
    for agreement_id, version in after.versions().items():
        if before.versions().get(agreement_id) != version:
            _tell_parties(uow, node, after.agreement(agreement_id), version_message(version), at)


def announce_untold(node: Node) -> list[tuple[str, str]]:
    """As a node starts: our version of each agreement, to each configured partner bound by it that has not told
    us it holds the same (nothing yet, or another) and to which no message about the agreement waits in the
    outbox. Its signed answer says what it holds (services/agreement_inbound.py), so both sides list where they
    differ from the first minutes, not from the first change. Returns (partner, agreement) told."""
    at, catalog, told = node.clock(), node.catalog, []
    with node.store.unit_of_work() as uow:
        for agreement_id, version in sorted(catalog.versions().items()):
            agreement = catalog.agreement(agreement_id)
            if node.party not in agreement.parties:
                continue
            known = {v.peer: v.digest for v in uow.agreements.peer_versions(agreement_id)}
            for party in sorted(agreement.parties - {node.party}):
                if node.partners.get(party) is None or known.get(party) == version.digest \
                        or uow.exchange.pending_about(party, {ordering_key(agreement_id)}):
                    continue
                enqueue(uow, at, party, version_message(version), ordering_key(agreement_id))
                told.append((party, agreement_id))
    return told


def version_message(version: AgreementVersion) -> AgreementVersionMessage:
    return AgreementVersionMessage(version.agreement, version.digest, version.baseline,
                                   tuple(i for i, _ in version.events), tuple(d for _, d in version.events))


def _signed_event(node: Node, actor: Actor, event: AgreementEvent, at: datetime) -> bytes:
    return record_bodies.sign(AgreementEventBody(
        event.id, event.agreement, event.kind.value, event.by, event.given.isoformat(),
        event.decided.isoformat() if event.decided else None, event.reference, event.notice, _amendment_json(event),
        node.party, actor.official.id, at.isoformat(), event.digest), signer=node.keys, at=at)


def _amendment_json(event: AgreementEvent) -> str | None:
    return json.dumps(event.amendment.data(), sort_keys=True) if event.amendment is not None else None


# --- answering a partner's event ------------------------------------------------------------------------------


def confirm(node: Node, actor: Actor, event_id: str) -> EventView:
    """Our security officer confirms a partner's event: this node applies it from now on."""
    return _answer(node, actor, event_id, confirmed=True, reason="")


def reject(node: Node, actor: Actor, event_id: str, reason: str) -> EventView:
    """Our security officer rejects a partner's event, saying why: the reason goes back to its node."""
    if not reason.strip():
        raise InvalidInput("say why the event is rejected (the reason goes back to the node that recorded it)")
    return _answer(node, actor, event_id, confirmed=False, reason=reason.strip())


def _answer(node: Node, actor: Actor, event_id: str, *, confirmed: bool, reason: str) -> EventView:
    at = node.clock()
    with node.store.unit_of_work(readonly=True) as uow:
        found = uow.agreements.get(event_id)
    if found is None:
        raise NotFound(f"no agreement event {event_id!r} here")
    baseline = node.live_catalog.baseline
    agreement = baseline.agreement(found.agreement)
    verb = "confirmation" if confirmed else "rejection"
    allowed = _authorised(node, actor, agreement, f"the {verb} of event {event_id}", _rule(found), at)
    with node.store.unit_of_work() as uow:
        record = _required(uow, event_id)
        if record.state != PROPOSED:
            raise Conflict(f"event {event_id} is {record.state}: only a partner's proposed event is confirmed or"
                           " rejected")
        if confirmed:
            _confirmed(uow, node, record, at)
        uow.agreements.decide(event_id, state=CONFIRMED if confirmed else REJECTED, by=actor.official.id, at=at,
                              reason=reason or None)
        signed = record_bodies.sign(AgreementAnswerBody(event_id, record.agreement, record.digest, node.party,
                                                        confirmed, reason, actor.official.id, at.isoformat()),
                                    signer=node.keys, at=at)
        uow.agreements.answer(EventAnswer(event_id, node.party, confirmed, reason, at, signed))
        enqueue(uow, at, record.origin, AgreementAnswerMessage(signed), ordering_key(record.agreement))
        audit_decision(uow, at, actor, f"agreement.{'confirm' if confirmed else 'reject'}", agreement.id, Decision(
            True, allowed.rules, (*allowed.reasons, f"{record.origin}'s {record.kind} {event_id}"
                                  f" {'confirmed: applied here from now on' if confirmed else 'rejected: ' + reason}."),
            agreement.id))
        view = EventView(_required(uow, event_id), tuple(uow.agreements.answers([event_id])))
    return view


def _confirmed(uow: UnitOfWork, node: Node, record: AgreementEventRecord, at: datetime) -> None:
    """A partner's event applied here too; DomainError if it does not fit what is applied here, naming the
    notice to confirm first when the event acts on one still proposed here."""
    generation, applied = turn(uow, node)
    try:
        change(uow, node, generation, applied, [*applied, event_of(record, node.live_catalog.baseline)], at)
    except DomainError:
        notice = uow.agreements.get(record.notice) if record.notice else None
        if notice is not None and notice.state == PROPOSED:
            raise InvalidInput(f"event {record.id} acts on notice {notice.id}, which is still proposed here:"
                               f" confirm {notice.id} first") from None
        raise


def _rule(record: AgreementEventRecord) -> str:
    return "R21.2" if record.kind == EventKind.AMENDMENT.value else "R21.3"


# --- what is held ----------------------------------------------------------------------------------------------


def events(node: Node, actor: Actor, agreement_id: str) -> list[EventView]:
    """Every event of the agreement held here, in the order recorded: ours (recorded), partners' (proposed,
    confirmed), and rejected ones, with the answers the other parties gave."""
    agreement = _agreement(node.catalog, agreement_id)
    with node.store.unit_of_work(readonly=True) as uow:
        records = uow.agreements.events(agreement.id)
        answers = uow.agreements.answers([r.id for r in records])
    return [EventView(r, tuple(a for a in answers if a.event_id == r.id)) for r in records]


@dataclass(frozen=True, slots=True)
class Difference:
    """How a partner's version of an agreement (as it last told us) stands against ours."""
    party: str
    digest: str | None            # None: it has not told us yet
    same: bool
    baseline_differs: bool
    only_ours: tuple[str, ...]    # events we apply and it does not
    only_theirs: tuple[str, ...]  # events it applies and we do not (their state here, in `states`)
    content_differs: tuple[str, ...]  # the same id with other content
    states: tuple[tuple[str, str], ...]  # (event id, its state here) for the events in only_theirs
    told_at: datetime | None


@dataclass(frozen=True, slots=True)
class Versions:
    ours: AgreementVersion
    partners: tuple[Difference, ...]


def versions(node: Node, actor: Actor, agreement_id: str) -> Versions:
    """Our version of the agreement, and where each other party's (as it last told us) differs."""
    catalog = node.catalog
    agreement = _agreement(catalog, agreement_id)
    ours = catalog.version(agreement.id)
    with node.store.unit_of_work(readonly=True) as uow:
        told = {v.peer: v for v in uow.agreements.peer_versions(agreement.id)}
        states = {r.id: r.state for r in uow.agreements.events(agreement.id)}
    return Versions(ours, tuple(_difference(party, ours, told.get(party), states)
                                for party in sorted(agreement.parties - {node.party})))


def _difference(party: str, ours: AgreementVersion, theirs: PeerVersion | None, states: dict[str, str]) -> Difference:
    if theirs is None:
        return Difference(party, None, False, False, (), (), (), (), None)
    mine, its = dict(ours.events), dict(theirs.events)
    only_theirs = tuple(sorted(its.keys() - mine.keys()))
    return Difference(party, theirs.digest, theirs.digest == ours.digest, theirs.baseline != ours.baseline,
                      tuple(sorted(mine.keys() - its.keys())), only_theirs,
                      tuple(sorted(i for i in mine.keys() & its.keys() if mine[i] != its[i])),
                      tuple((i, states.get(i, "unknown here")) for i in only_theirs), theirs.received_at)


# --- the node's catalogue from the store ---------------------------------------------------------------------


def load(node: Node) -> None:
    """At start: the catalogue of the baseline and the events this node applies. StoreUnavailable if the
    stored events cannot be applied (the node must not decide under rules it cannot read)."""
    try:
        refresh(node)
    except DomainError as bad:
        raise StoreUnavailable(f"the node's agreement events cannot be applied: {bad}") from None


def refresh(node: Node) -> bool:
    """Another process (a CLI beside the server) may have changed the events: rebuild the catalogue if the
    store's generation is not the one installed. Cheap when nothing changed: one small read."""
    live = node.live_catalog
    seen = live.generation
    with node.store.unit_of_work(readonly=True) as uow:
        generation = uow.agreements.generation()
        if generation == seen:
            return False
        built = build_catalog(live.baseline, _applied(uow, live.baseline))
    return live.install(built, generation, if_still=seen)


# --- shared with agreement_inbound ------------------------------------------------------------------------------


def event_of(record: AgreementEventRecord, baseline: Catalog) -> AgreementEvent:
    return event_from_dict({"id": record.id, "agreement": record.agreement, "kind": record.kind,
                            "by": record.by_party, "given": record.given, "decided": record.decided,
                            "reference": record.reference, "notice": record.notice,
                            "amendment": json.loads(record.amendment) if record.amendment else None}, baseline)


def _applied(uow: UnitOfWork, baseline: Catalog) -> list[AgreementEvent]:
    return [event_of(r, baseline) for r in uow.agreements.applied()]


def tell_parties(uow: UnitOfWork, node: Node, agreement: Agreement, message: AgreementAnswerMessage,
                 at: datetime, besides: Iterable[str]) -> list[str]:
    return _tell_parties(uow, node, agreement, message, at, besides)


def _required(uow: UnitOfWork, event_id: str) -> AgreementEventRecord:
    record = uow.agreements.get(event_id)
    if record is None:
        raise NotFound(f"no agreement event {event_id!r} here")
    return record


def _agreement(catalog: Catalog, agreement_id: str) -> Agreement:
    try:
        return catalog.agreement(agreement_id)
    except UnknownAgreement as unknown:
        raise NotFound(str(unknown)) from None
