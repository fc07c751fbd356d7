"""The sender's side of a delivery: what is due, and what to record when the partner answers.

A batch of messages to one partner goes out together and its answers are recorded together, in one
transaction; each message still has its own signature, its own answer and its own retry schedule.

A signed answer settles a message for good: a receipt (delivered) or a refusal (refused, with the
partner's rules and reasons), never sent again. No signed answer (the partner unreachable, a fault
there, an answer that does not verify) means: try again later, backing off; a message that has failed
for longer than the node's `delivery_flag_after_s` is flagged once for the security officer (audited,
and shown in the outbox listing), and still retried.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gsomia.crypto import InvalidRecord
from gsomia.services import record_bodies
from gsomia.services.agreement_inbound import on_version_answer
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.exchange_common import audit_note, enqueue, node_actor
from gsomia.services.messages import (
    AgreementVersionMessage,
    AuditCheckpointMessage,
    CompromiseReportMessage,
    ItemMessage,
    ReceiptMessage,
    decode,
)
from gsomia.services.peer_messages import sign_messages
from gsomia.services.record_bodies import ReceiptBody
from gsomia.services.wire import Malformed
from gsomia.storage.exchange import DELIVERED, REFUSED, Claimant, OutboxMessage
from gsomia.storage.records import ItemEvent
from gsomia.storage.unit_of_work import UnitOfWork

MAX_BACKOFF = timedelta(seconds=30)

# What the partner said about one message: its signed answer (bytes), or why there is none (str).
Outcome = bytes | str


def due_messages(node: Node, limit: int = 50, *, besides: Collection[str] = (),
                 claimant: str | None = None) -> list[OutboxMessage]:
    """Messages to send now, but for those on their way (`besides`) and those another sender than
    `claimant` has claimed: at most one per (partner, item), the oldest, so an item's notices keep their order."""
    now = node.clock()
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.exchange.due(now, limit, besides=besides, claimant=claimant)


def claim_due(node: Node, claimant: Claimant, limit: int = 50, *,
              besides: Collection[str] = ()) -> list[OutboxMessage]:
    """`due_messages`, claimed for `claimant` for its lease: no other sender (worker) sends them meanwhile."""
    now = node.clock()
    with node.store.unit_of_work() as uow:
        return uow.exchange.claim_due(now, limit, claimant, besides=besides)


def release_claims(node: Node, claimant: str, *, besides: Collection[str] = ()) -> int:
    """A sender that stops gives back its claims but for `besides` (still on their way): the others take them
    at once, rather than when the leases run out."""
    with node.store.unit_of_work() as uow:
        return uow.exchange.release_claims(claimant, besides=besides)


def outbox(node: Node, actor: Actor, *, state: str | None = None, limit: int = 200) -> list[OutboxMessage]:
    """Messages to partners, newest first, and how their delivery stands (flagged ones failing too long)."""
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.exchange.outbox(state=state, limit=limit)


def signed_for_sending(node: Node, batch: Sequence[OutboxMessage]) -> list[bytes]:
    """Signed afresh for each attempt, at the moment they leave: a new sent_at, the same message ids;
    one signature for the batch, each message verifiable alone."""
    return sign_messages(node.keys, [(m.message_id, m.kind, m.peer, m.payload) for m in batch], node.clock())


@dataclass(frozen=True, slots=True)
class Recorded:
    outcomes: list[str]  # per message: accepted | refused (settled), or unverified | failed (retried later)
    more_about_these_items: bool  # other messages to the partner about the same items are pending


def record_outcomes(node: Node, outcomes: Sequence[tuple[OutboxMessage, Outcome]], *,
                    claimant: str | None = None) -> Recorded:
    """Record what the partner answered to each message of a batch, in one transaction.

    The settled answers are audited with one append and noted against their items with one insert. Says
    whether other messages about the same items wait for the partner: an item's notices leave one by one.
    A message to retry is given back by `claimant` (the sender that claimed it) for whichever sender is next.
    """
    now = node.clock()
    results = []
    settled: list[_Settled] = []
    with node.store.unit_of_work() as uow:
        for message, outcome in outcomes:
            if isinstance(outcome, str):
                _retry_later(node, uow, message, outcome, now, claimant)
                results.append("failed")
                continue
            answered = _settle(node, uow, message, outcome, now, claimant)
            results.append(answered if isinstance(answered, str) else answered.outcome)
            if isinstance(answered, _Settled):
                settled.append(answered)
        if settled:
            _record_settled(node, uow, settled, now)
        more = any(uow.exchange.pending_about(peer, {m.item_id for m, _ in outcomes if m.peer == peer and m.item_id})
                   for peer in {m.peer for m, _ in outcomes})
    return Recorded(results, more)


@dataclass(frozen=True, slots=True)
class _Settled:
    """A verified answer, newly recorded on its outbox row: still to be audited and followed up."""
    message: OutboxMessage
    answer: bytes
    receipt: ReceiptBody
    details: dict[str, Any]  # what an accepted answer says it did, beyond the receipt's core

    @property
    def outcome(self) -> str:
        return self.receipt.outcome

    @property
    def why(self) -> str:
        return f" ({'; '.join(self.receipt.reasons)})" if self.receipt.reasons else ""


def _retry_later(node: Node, uow: UnitOfWork, message: OutboxMessage, error: str, now: datetime,
                 claimant: str | None) -> None:
    """Retry later, backing off exponentially (capped): the partner may be down for a while. Failing for
    too long, the message is flagged for the security officer, once."""
    attempts = message.attempts + 1
    backoff: timedelta = min(timedelta(milliseconds=200) * (2 ** min(attempts, 10)), MAX_BACKOFF)
    uow.exchange.retry_later(message.message_id, attempts=attempts, at=now + backoff, error=error, by=claimant)
    overdue = now - message.created_at > timedelta(seconds=node.settings.delivery_flag_after_s)
    if overdue and message.flagged_at is None and uow.exchange.flag(message.message_id, at=now):
        audit_note(uow, now, node_actor(node), "delivery.overdue", message.item_id, ("R6.f",),
                   f"the {message.kind} message {message.message_id} to {message.peer} has not gone through since"
                   f" {message.created_at.isoformat()} ({attempts} attempts; last: {error[:200]}); still retried")


def _settle(node: Node, uow: UnitOfWork, message: OutboxMessage, answer: bytes, now: datetime,
            claimant: str | None) -> _Settled | str:
    """The answer verified and recorded on the outbox row; or why not (retried later), or the outcome
    recorded already by a concurrent sender (nothing to record twice)."""
    try:
        receipt, record = record_bodies.read(answer, ReceiptBody, trusted=node.partners.directory)
    except (InvalidRecord, Malformed) as bad:
        _retry_later(node, uow, message, f"answer does not verify: {bad}", now, claimant)
        return "unverified"
    if record.signer.party != message.peer or receipt.message_id != message.message_id:
        _retry_later(node, uow, message, "answer is not the partner's receipt for this message", now, claimant)
        return "unverified"
    if not uow.exchange.settle(message.message_id, state=DELIVERED if receipt.outcome == "accepted" else REFUSED,
                               at=now, response=answer):
        return receipt.outcome
    return _Settled(message, answer, receipt, record.body)


def _record_settled(node: Node, uow: UnitOfWork, settled: list[_Settled], now: datetime) -> None:
    """Audit every settled answer, note it against its item (R6.f), and follow up what it calls for. An
    anchor the partner took is not audited (services/audit_anchors.py says why); its refusal is."""
    actor = node_actor(node)
    settled = [s for s in settled if not (s.message.kind == AuditCheckpointMessage.kind and s.outcome == "accepted")]
    if not settled:
        return
    drafts = [draft(actor, f"peer.{s.message.kind}.{s.outcome}", s.message.item_id, rules=s.receipt.rules,
                    reasons=(f"{s.message.peer} answered {s.message.message_id}: {s.outcome}{s.why}",))
              for s in settled]
    append(uow, now, drafts, lambda first: [
        ItemEvent(s.message.item_id, now, actor.official.id, "receipt" if s.outcome == "accepted" else "refused-by",
                  s.message.peer, f"{s.message.kind}: {s.outcome}{s.why}", s.answer, seq)
        for seq, s in enumerate(settled, start=first)
        if s.message.item_id and s.message.kind in ("item", "destruction-certificate", "recall")])
    for s in settled:
        if s.outcome != "accepted":
            continue
        sent = decode(s.message.kind, s.message.payload)  # our own message, as it was written
        if isinstance(sent, ItemMessage) and sent.originator != node.party:
            # We relayed or disclosed a partner's item: its originator learns who now holds it (R6.f).
            enqueue(uow, now, sent.originator, ReceiptMessage(sent.item_ref, s.answer), s.message.item_id)
        if isinstance(sent, CompromiseReportMessage):
            uow.exchange.update_report(sent.report_id, notified_at=now)
        if isinstance(sent, AgreementVersionMessage):
            on_version_answer(uow, s.message.peer, sent, s.details, now)
