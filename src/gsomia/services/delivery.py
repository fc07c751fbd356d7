"""The sender's side of a delivery: what is due, and what to record when the partner answers.

A batch of messages to one partner goes out together and its answers are recorded together, in one
transaction; each message still has its own signature, its own answer and its own retry schedule.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from gsomia.crypto import InvalidRecord, verify_record
from gsomia.services.exchange_common import audit_note, enqueue, item_event, node_actor
from gsomia.services.partners import Partners
from gsomia.services.peer_messages import decode_payload, sign_message
from gsomia.services.runtime import Node
from gsomia.storage.exchange import DELIVERED, REFUSED, OutboxMessage
from gsomia.storage.unit_of_work import UnitOfWork

MAX_BACKOFF = timedelta(seconds=30)

# What the partner said about one message: its signed answer (bytes), or why there is none (str).
Outcome = bytes | str


def due_messages(node: Node, limit: int = 50, *, besides: Collection[str] = ()) -> list[OutboxMessage]:
    """Messages to send now, but for those on their way (`besides`): at most one per (partner, item),
    the oldest, so an item's notices keep their order."""
    now = node.ctx.clock()
    with node.ctx.store.unit_of_work(readonly=True) as uow:
        return uow.exchange.due(now, limit, besides=besides)


def signed_for_sending(node: Node, message: OutboxMessage) -> bytes:
    """Signed afresh for each attempt, at the moment it leaves: a new sent_at, the same message id."""
    return sign_message(node.keys, message.message_id, message.kind, message.peer, message.payload, node.ctx.clock())


def record_outcomes(node: Node, partners: Partners, outcomes: Sequence[tuple[OutboxMessage, Outcome]]) -> list[str]:
    """Record what the partner answered to each message of a batch, in one transaction.

    Returns per message: accepted | refused (settled), or unverified | failed (to be retried later).
    """
    now = node.ctx.clock()
    results = []
    with node.ctx.store.unit_of_work() as uow:
        for message, outcome in outcomes:
            if isinstance(outcome, str):
                _retry_later(node, uow, message, outcome)
                results.append("failed")
                continue
            results.append(_record_answer(node, partners, uow, message, outcome, now))
    return results


def _retry_later(node: Node, uow: UnitOfWork, message: OutboxMessage, error: str) -> datetime:
    """Retry later, backing off exponentially (capped): the partner may be down for a while."""
    attempts = message.attempts + 1
    backoff: timedelta = min(timedelta(milliseconds=200) * (2 ** min(attempts, 10)), MAX_BACKOFF)
    later = node.ctx.clock() + backoff
    uow.exchange.retry_later(message.message_id, attempts=attempts, at=later, error=error)
    return later


def _record_answer(node: Node, partners: Partners, uow: UnitOfWork, message: OutboxMessage, answer: bytes,
                   now: datetime) -> str:
    try:
        receipt = verify_record(answer, trusted=partners.directory, expected_type="receipt")
    except InvalidRecord as bad:
        _retry_later(node, uow, message, f"answer does not verify: {bad}")
        return "unverified"
    body = receipt.body
    if receipt.signer.party != message.peer or body.get("message_id") != message.message_id:
        _retry_later(node, uow, message, "answer is not the partner's receipt for this message")
        return "unverified"
    outcome = str(body.get("outcome"))
    if not uow.exchange.settle(message.message_id, state=DELIVERED if outcome == "accepted" else REFUSED,
                               at=now, response=answer):
        return outcome  # settled already (a concurrent sender): record nothing twice
    actor = node_actor(node)
    reasons = "; ".join(str(r) for r in body.get("reasons", []))
    seq = audit_note(uow, now, actor, f"peer.{message.kind}.{outcome}", message.item_id,
                     tuple(body.get("rules", [])),
                     f"{message.peer} answered {message.message_id}: {outcome}" + (f" ({reasons})" if reasons else ""))
    if message.item_id and message.kind in ("item", "destruction-certificate", "recall"):
        item_event(uow, now, actor, message.item_id, "receipt" if outcome == "accepted" else "refused-by",
                   message.peer, f"{message.kind}: {outcome}" + (f" ({reasons})" if reasons else ""), seq, answer)
    payload = decode_payload(message.payload)
    if message.kind == "item" and outcome == "accepted" and payload.get("originator") != node.party:
        # We relayed or disclosed a partner's item: its originator learns who now holds it (R6.f).
        enqueue(uow, now, str(payload["originator"]), "receipt",
                {"item_ref": payload["item_ref"], "receipt": answer}, message.item_id)
    if message.kind == "compromise-report" and outcome == "accepted":
        uow.exchange.update_report(str(payload["report_id"]), notified_at=now)
    return outcome
