"""What waits for the security officer, read from the node's records: the agreements in force and their
notice deadlines, consent requests, compromise reports and their R17.1 deadlines, recalls awaiting
destruction certificates, deliveries backlogged or failing, the audit head and the checkpoints exchanged
with each partner. Read only; the registry's keeper (the security officer) reads it (R6.f, R6.e).

The web console's dashboard shows these; the API lists the same records (`/v1/consents`, `/v1/reports`,
`/v1/outbox`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gsomia.crypto import InvalidRecord
from gsomia.domain.agreements import Agreement
from gsomia.domain.labels import Label
from gsomia.domain.life import Status
from gsomia.domain.officials import Role
from gsomia.services import access, record_bodies, visibility
from gsomia.services.context import Actor, Node
from gsomia.services.errors import NotFound
from gsomia.services.exchange_common import find_by_ref
from gsomia.services.record_bodies import DestructionCertificateBody
from gsomia.services.wire import Malformed
from gsomia.storage.exchange import PENDING, REFUSED, CompromiseReport, ConsentRecord, OutboxMessage
from gsomia.storage.records import Checkpoint, ItemRecord

OFFICER = Role.SECURITY_OFFICER
CHECKPOINT_KIND = "audit-checkpoint"


@dataclass(frozen=True, slots=True)
class AgreementToday:
    agreement: Agreement
    status: Status
    binds_us: bool  # this node's party is a party to it


def agreements_today(node: Node) -> list[AgreementToday]:
    """Every agreement as it stands now (R21): those binding this node's party first."""
    now = node.clock()
    found = [AgreementToday(a, node.catalog.status(a, now), node.party in a.parties) for a in node.catalog.agreements]
    return sorted(found, key=lambda a: (not a.binds_us, not a.status.in_force, a.agreement.id))


def consents(node: Node, actor: Actor, *, state: str | None = None) -> list[ConsentRecord]:
    """Consents asked of us, asked by us, and given (R6.a, T5), newest first."""
    access.require(node, actor, "consent.list", None, OFFICER)
    with node.store.unit_of_work(readonly=True) as uow:
        return sorted(uow.exchange.consents(state=state), key=lambda c: c.created_at, reverse=True)


@dataclass(frozen=True, slots=True)
class ReportStanding:
    report: CompromiseReport
    overdue: tuple[str, ...]  # R17.1: "first notice", "investigation result"

    @property
    def open(self) -> bool:
        return self.report.result is None


def reports(node: Node, actor: Actor) -> list[ReportStanding]:
    """Compromise reports made and received, with their R17.1 deadlines and what is overdue, newest first."""
    access.require(node, actor, "report.list", None, OFFICER)
    now = node.clock()
    with node.store.unit_of_work(readonly=True) as uow:
        found = uow.exchange.reports()
    return [ReportStanding(r, tuple(r.overdue(now))) for r in sorted(found, key=lambda r: r.reported_at, reverse=True)]


@dataclass(frozen=True, slots=True)
class Recall:
    """A recall (R6.h) of one of our items: the holders asked, and those whose certificate came back."""

    item_id: str
    at: datetime
    reason: str
    holders: tuple[str, ...]
    certified: tuple[str, ...]

    @property
    def awaiting(self) -> tuple[str, ...]:
        return tuple(h for h in self.holders if h not in self.certified)


@dataclass(frozen=True, slots=True)
class RecallRequest:
    """A partner asks us to return or destroy its item (R6.h); until it is destroyed here, it waits on us."""

    item: ItemRecord
    at: datetime
    by: str
    reason: str


def recalls(node: Node, actor: Actor) -> tuple[list[Recall], list[RecallRequest]]:
    """Our recalls with the certificates still awaited, and partners' recalls of items still held here."""
    access.require(node, actor, "recall.list", None, OFFICER)
    with node.store.unit_of_work(readonly=True) as uow:
        events = uow.items.events_of_kind("recalled", "destroyed-by", "recall-requested")
        requested = {e.item_id: uow.items.get(e.item_id) for e in events if e.kind == "recall-requested"}
    ours = []
    for recall in (e for e in events if e.kind == "recalled"):
        holders = tuple(h for h in (recall.counterparty or "").split(",") if h)
        certified = tuple(sorted({e.counterparty for e in events if e.kind == "destroyed-by"
                                  and e.item_id == recall.item_id and e.counterparty and e.at >= recall.at}))
        ours.append(Recall(recall.item_id, recall.at, recall.detail, holders, certified))
    theirs = [RecallRequest(item, e.at, e.counterparty or "?", e.detail) for e in events
              if e.kind == "recall-requested" and (item := requested[e.item_id]) is not None
              and item.state != "destroyed"]
    return ours, theirs


@dataclass(frozen=True, slots=True)
class Deliveries:
    """The outbox as the security officer watches it: the backlog, and what is failing or was refused."""

    pending: int
    oldest_pending: datetime | None
    flagged: tuple[OutboxMessage, ...]   # failing for longer than delivery_flag_after_s (still retried)
    failing: tuple[OutboxMessage, ...]   # pending with at least one failed attempt
    refused: tuple[OutboxMessage, ...]   # the partner's signed refusal: final


def deliveries(node: Node, actor: Actor, *, limit: int = 500) -> Deliveries:
    access.require(node, actor, "outbox.list", None, OFFICER)
    with node.store.unit_of_work(readonly=True) as uow:
        pending = uow.exchange.outbox(state=PENDING, limit=limit)
        refused = uow.exchange.outbox(state=REFUSED, limit=20)
    return Deliveries(len(pending), min((m.created_at for m in pending), default=None),
                      tuple(m for m in pending if m.flagged_at is not None),
                      tuple(m for m in pending if m.attempts > 0), tuple(refused))


@dataclass(frozen=True, slots=True)
class PartnerCheckpoints:
    party: str
    received: tuple[int, str, datetime] | None   # their last signed audit head we hold: count, hash, when
    sent: OutboxMessage | None                   # our last checkpoint to them, and how its delivery stands


@dataclass(frozen=True, slots=True)
class AuditStanding:
    entries: int
    head_hash: str
    last_checkpoint: Checkpoint | None
    partners: tuple[PartnerCheckpoints, ...]


def audit_standing(node: Node, actor: Actor) -> AuditStanding:
    """The audit head, our last signed checkpoint, and the last checkpoints exchanged with each partner."""
    access.require(node, actor, "audit.head", None, OFFICER)
    with node.store.unit_of_work(readonly=True) as uow:
        count, head = uow.audit.head()
        ours = uow.audit.checkpoints()
        received = uow.exchange.peer_checkpoints()
        sent = [m for m in uow.exchange.outbox(limit=1000) if m.kind == CHECKPOINT_KIND]
    partners = []
    for party in sorted(node.partners.by_party):
        theirs = [(c, h, at) for p, c, h, at in received if p == party]
        to_them = [m for m in sent if m.peer == party]  # newest first
        partners.append(PartnerCheckpoints(party, theirs[-1] if theirs else None, to_them[0] if to_them else None))
    return AuditStanding(count, head, ours[-1] if ours else None, tuple(partners))


def labels(node: Node, refs: Iterable[tuple[str | None, str]]) -> list[Label]:
    """The labels of the items a page names, for its classification banner: (originator, the originator's id)
    for items known by reference (consents, reports), (None, our id) for items named by ours (the audit trail's
    subjects). Names that are no item here (officials, streams) are passed over."""
    found: dict[str, Label] = {}
    with node.store.unit_of_work(readonly=True) as uow:
        for originator, ref in set(refs):
            held = find_by_ref(uow, node, originator, ref) if originator else [uow.items.get(ref)]
            for item in held:
                if item is not None:
                    found[item.id] = Label.from_canonical(item.label_bytes, node.schemes)
    return list(found.values())


def copies(node: Node, actor: Actor, item_id: str) -> list[ItemRecord]:
    """Copies and translations made here of an item the official may see (R4.5, Art. 16)."""
    item = visibility.visible_item(node, actor, item_id, "item.copies")
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.items.derived_from(item.id)


@dataclass(frozen=True, slots=True)
class Certificate:
    """A destruction certificate (Art. 13, R6.h) as signed here, and what it says."""

    item: ItemRecord
    data: bytes            # the COSE_Sign1 record, as sent to the originator (`gsomia verify` checks it)
    body: DestructionCertificateBody
    signed_at: datetime
    verified: bool         # its signature checks out under this node's own key


def destruction_certificate(node: Node, actor: Actor, item_id: str) -> Certificate:
    """The signed certificate of an item destroyed here, for the official to see and keep."""
    item = visibility.visible_item(node, actor, item_id, "item.certificate")
    with node.store.unit_of_work(readonly=True) as uow:
        destroyed = [e for e in uow.items.events(item.id) if e.kind == "destroyed" and e.receipt]
    if not destroyed or destroyed[-1].receipt is None:
        raise NotFound(f"item {item_id} has no destruction certificate here")
    data = destroyed[-1].receipt
    try:
        body, record = record_bodies.read(data, DestructionCertificateBody, trusted=node.keys)
    except (InvalidRecord, Malformed):
        return Certificate(item, data, DestructionCertificateBody(item.id, "", "", "", ""), destroyed[-1].at, False)
    return Certificate(item, data, body, record.signed_at, True)
