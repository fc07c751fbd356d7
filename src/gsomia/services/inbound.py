"""Messages from partner nodes: opened once at the edge (`open_batch`), then handled in one transaction
(`handle_messages`: a savepoint per message) with each message's audit entry and its signed answer; the
batch's answers are signed together (one signature over their Merkle root, each verifiable alone).

Every message a partner signed gets a signed answer, remembered by message id so that a copy gets the
same one: a receipt when it was taken, a refusal when it was not (a Decision's rules and reasons:
the policy refused, or the message cannot be understood, G4) — both final, never to be resent. What
gets no signed answer is what may come right on a retry: a signature that does not verify, a message
outside the replay window, a fault here. The sender retries those, and flags them when it has tried
too long. Every refusal is audited here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from gsomia.crypto import sign_records
from gsomia.domain.policy import decide_peer, decide_unreadable
from gsomia.domain.requests import Decision, refusal
from gsomia.services.context import Node
from gsomia.services.exchange_common import audit_decision, audit_note, node_actor
from gsomia.services.inbound_handlers import Refused, dispatch
from gsomia.services.peer_messages import Envelope, PeerMessage, ProtocolError, Unreadable, open_message
from gsomia.storage.exchange import InboxEntry
from gsomia.storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
Opened = PeerMessage | Unreadable | ProtocolError


def open_batch(node: Node, batch: Sequence[bytes], tls_party: str | None) -> list[Opened]:
    """Each message verified against the partners' keys and decoded to its type, at the edge: a message
    must be signed by the partner whose pinned certificate the connection presented."""
    return [_opened(node, data, tls_party) for data in batch]


def _opened(node: Node, data: bytes, tls_party: str | None) -> Opened:
    try:
        message = open_message(data, trusted=node.partners.directory)
    except ProtocolError as bad:
        return bad
    if tls_party is None or message.envelope.sender != tls_party:
        return ProtocolError(f"message signed by {message.envelope.sender} arrived over {tls_party or 'no'}"
                             " node's TLS", 403)
    return message


@dataclass(frozen=True, slots=True)
class _Answer:
    """A message answered: what its signed answer says, signed with the batch's other answers."""

    envelope: Envelope
    outcome: str  # accepted | refused
    body: dict[str, Any]


def handle_messages(node: Node, opened: Sequence[Opened]) -> list[bytes | ProtocolError]:
    """A batch of opened messages from one partner, answered in order, all recorded in one transaction.

    Each message is handled in its own savepoint, so one message's refusal or failure never touches
    another's records; the batch commits once (one fsync for all of them).
    """
    now = node.clock()
    ids = [m.envelope.id for m in opened if not isinstance(m, ProtocolError)]
    answers: list[bytes | ProtocolError | _Answer] = []
    fresh: dict[str, _Answer] = {}
    try:
        with node.store.unit_of_work() as uow:
            seen = uow.exchange.seen_many(ids)  # inside the writing transaction: no copy can slip in between
            for message in opened:
                if isinstance(message, ProtocolError):
                    audit_note(uow, now, node_actor(node), "peer.message", None, ("G3",), str(message))
                    answers.append(message)
                elif message.envelope.id in seen:
                    answers.append(seen[message.envelope.id])
                elif message.envelope.id in fresh:  # the same id twice in one batch: one answer
                    answers.append(fresh[message.envelope.id])
                else:
                    answer = _answer(node, uow, message, now)
                    if isinstance(answer, _Answer):
                        fresh[message.envelope.id] = answer
                    answers.append(answer)
            signed = _signed(node, uow, list(fresh.values()), now)
    except IntegrityError:
        # The same message delivered at once over another connection, recorded first: its answers stand.
        if len(opened) == 1:
            return [_again(node, opened[0])]
        return [handle_messages(node, [message])[0] for message in opened]
    return [signed[a.envelope.id] if isinstance(a, _Answer) else a for a in answers]


def _answer(node: Node, uow: UnitOfWork, message: PeerMessage | Unreadable, now: datetime) -> _Answer | ProtocolError:
    envelope, actor, action = message.envelope, node_actor(node), f"peer.{message.envelope.kind}"
    if envelope.stale(now):
        audit_note(uow, now, actor, action, None, ("G3",),
                   f"message {envelope.id} from {envelope.sender} sent {envelope.sent_at.isoformat()} is outside"
                   " the replay window: refused as a replay")
        return ProtocolError("message is outside the replay window (replayed or clock skew)", 409)
    decision = _admitted(node, message, now)
    if not decision.allowed:
        audit_decision(uow, now, actor, action, None, decision)
        return _refused(node, envelope, decision)
    assert isinstance(message, PeerMessage)  # an Unreadable one is refused above
    try:
        with uow.savepoint():
            details = dispatch(node, uow, message, now)
    except Refused as refused:  # rolled back: audited and answered here, in the batch's transaction
        audit_decision(uow, now, actor, refused.action, refused.subject, refused.decision)
        return _refused(node, envelope, refused.decision)
    except Exception:  # a fault here, not a refusal: rolled back, unanswered, so the sender retries it
        log.exception("%s message %s from %s could not be handled", envelope.kind, envelope.id, envelope.sender)
        return ProtocolError(f"message {envelope.id} could not be handled here; it will be taken again", 500)
    return _Answer(envelope, "accepted", {**_head(node, envelope, "accepted"), "accepted": True, **details})


def _admitted(node: Node, message: PeerMessage | Unreadable, now: datetime) -> Decision:
    """Whether this node takes the message at all: addressed here, from a partner under an agreement that
    has entered into force, and readable."""
    envelope = message.envelope
    if envelope.recipient != node.party:
        return refusal(("G1",), f"message {envelope.id} is addressed to {envelope.recipient}, not {node.party}.")
    decision = decide_peer(node.party, envelope.sender, now, node.catalog)
    if decision.allowed and isinstance(message, Unreadable):
        return decide_unreadable(envelope.kind, message.problem)
    return decision


def _head(node: Node, envelope: Envelope, outcome: str) -> dict[str, Any]:
    return {"message_id": envelope.id, "kind": envelope.kind, "outcome": outcome, "from": node.party}


def _refused(node: Node, envelope: Envelope, decision: Decision) -> _Answer:
    return _Answer(envelope, "refused", {**_head(node, envelope, "refused"), "accepted": False,
                                         "rules": list(decision.rules), "reasons": list(decision.reasons)})


def _signed(node: Node, uow: UnitOfWork, answers: list[_Answer], now: datetime) -> dict[str, bytes]:
    """The batch's answers, signed together (one signature over their Merkle root, each verifiable alone)
    and remembered, so that a copy of a message gets the same answer again."""
    signed = sign_records("receipt", [a.body for a in answers], signer=node.keys, at=now)
    uow.exchange.remember([InboxEntry(a.envelope.id, a.envelope.sender, a.envelope.kind, now, a.outcome, response)
                           for a, response in zip(answers, signed, strict=True)])
    return {a.envelope.id: response for a, response in zip(answers, signed, strict=True)}


def _again(node: Node, message: Opened) -> bytes | ProtocolError:
    if isinstance(message, ProtocolError):
        return message
    with node.store.unit_of_work(readonly=True) as uow:
        again = uow.exchange.seen(message.envelope.id)
    if again is None:
        raise RuntimeError(f"message {message.envelope.id} clashed with a copy that is not recorded")
    return again.response
