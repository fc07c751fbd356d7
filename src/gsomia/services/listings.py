"""What an official lists of the exchange with partners: consents, compromise reports, the inbox, and how
one message to a partner stands. Reads only; the use cases that write these are in `exchange` and `delivery`.

Like the outbox listing (`delivery.outbox`), these are open to every authenticated official of the node: they
carry ids, parties, states and the officials' own wording, never an item's content.
"""

from __future__ import annotations

from typing import TypeVar

from gsomia.crypto import InvalidRecord
from gsomia.services import record_bodies
from gsomia.services.context import Actor, Node
from gsomia.services.errors import NotFound
from gsomia.services.record_bodies import ReceiptBody
from gsomia.services.wire import Malformed
from gsomia.storage.exchange import CompromiseReport, ConsentRecord, InboxEntry, OutboxMessage

__all__ = ["CONSENT_STATES", "CompromiseReport", "ConsentRecord", "InboxEntry", "OutboxMessage", "ReceiptBody",
           "answer", "consent", "consents", "inbox", "outbox_message", "report", "reports"]

CONSENT_STATES = ("requested", "granted", "refused")
T = TypeVar("T")


def consents(node: Node, actor: Actor, *, state: str | None = None) -> list[ConsentRecord]:
    """Consents asked of us, asked by us, and given (R6.a, T5), oldest first."""
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.exchange.consents(state=state)


def consent(node: Node, actor: Actor, consent_id: str) -> ConsentRecord:
    with node.store.unit_of_work(readonly=True) as uow:
        return _found(uow.exchange.consent(consent_id), f"no consent {consent_id!r} here")


def reports(node: Node, actor: Actor) -> list[CompromiseReport]:
    """Compromise reports made and received (R17.1), oldest first; `overdue(now)` flags late notices and results."""
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.exchange.reports()


def report(node: Node, actor: Actor, report_id: str) -> CompromiseReport:
    with node.store.unit_of_work(readonly=True) as uow:
        return _found(uow.exchange.report(report_id), f"no compromise report {report_id!r} here")


def inbox(node: Node, actor: Actor, *, limit: int = 200) -> list[InboxEntry]:
    """Partners' messages handled here, newest first, with the outcome each was answered with (accepted or
    refused, the signed answer kept so that a copy of the message gets the same one)."""
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.exchange.inbox(limit=limit)


def outbox_message(node: Node, actor: Actor, message_id: str) -> OutboxMessage:
    """One message to a partner and how its delivery stands (pending, delivered or refused)."""
    with node.store.unit_of_work(readonly=True) as uow:
        return _found(uow.exchange.outbox_message(message_id), f"no message {message_id!r} in the outbox")


def _found(record: T | None, missing: str) -> T:
    if record is None:
        raise NotFound(missing)
    return record


def answer(node: Node, message: OutboxMessage) -> ReceiptBody | None:
    """The partner's signed answer to a settled message (receipt or refusal, with its rules and reasons),
    verified against the partner's published key; None while pending, or if it does not verify."""
    if message.response is None:
        return None
    try:
        body, record = record_bodies.read(message.response, ReceiptBody, trusted=node.partners.directory)
    except (InvalidRecord, Malformed):
        return None
    return body if record.signer.party == message.peer else None
