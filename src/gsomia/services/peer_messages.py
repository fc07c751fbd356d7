"""The peer protocol's one envelope: a signed record ("peer-message") around a typed message.

    {id, kind, from, to, sent_at, payload}

`id` is stable across retries (idempotency); `sent_at` is fresh on every attempt, so a receiver can
refuse captured messages replayed outside its window while still answering a genuine retry. The
payload is a message of services/messages.py, in its deterministic CBOR form; sealed envelopes and
other signed records ride inside it as bytes.

`open_message` verifies and unpacks at the federation edge. What cannot be trusted (a bad signature, a
message without an id) is a `ProtocolError`, answered without a receipt and retried by an honest
sender; a trusted message whose payload cannot be understood comes back as `Unreadable`, which the
receiver refuses for good with a signed receipt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gsomia.crypto import InvalidRecord, KeyDirectory, KeyRing, sign_records, verify_record
from gsomia.services.messages import Payload, decode
from gsomia.services.wire import Malformed

RECORD_TYPE = "peer-message"
REPLAY_WINDOW = timedelta(minutes=5)


class ProtocolError(ValueError):
    """A peer message that is not taken at all; `status` is the HTTP status the peer endpoint answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sent which message to whom, and when: verified, whatever its payload says."""

    id: str
    kind: str
    sender: str
    recipient: str
    sent_at: datetime

    def stale(self, now: datetime) -> bool:
        return abs(now - self.sent_at) > REPLAY_WINDOW


@dataclass(frozen=True, slots=True)
class PeerMessage:
    envelope: Envelope
    body: Payload

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def sender(self) -> str:
        return self.envelope.sender


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A message its signer sent us that cannot be understood: refused for good (never retried)."""

    envelope: Envelope
    problem: str


def sign_message(keys: KeyRing, message_id: str, kind: str, to: str, payload: bytes, at: datetime) -> bytes:
    """One message alone (`messages.encode` makes the payload of a typed message)."""
    return sign_messages(keys, [(message_id, kind, to, payload)], at)[0]


def sign_messages(keys: KeyRing, messages: Sequence[tuple[str, str, str, bytes]], at: datetime) -> list[bytes]:
    """(id, kind, to, payload) each, signed together: one signature for the batch, each message still
    verifiable alone (crypto.sign_records). The payload goes as it was encoded when the message was
    written to the outbox (`messages.encode`)."""
    bodies = [{"id": message_id, "kind": kind, "from": keys.party, "to": to, "sent_at": at.isoformat(),
               "payload": payload} for message_id, kind, to, payload in messages]
    return sign_records(RECORD_TYPE, bodies, signer=keys, at=at)


def open_message(data: bytes, *, trusted: KeyDirectory) -> PeerMessage | Unreadable:
    """Verify and unpack. ProtocolError when the message cannot be trusted or named; Unreadable when its
    signer sent something this node cannot understand."""
    try:
        record = verify_record(data, trusted=trusted, expected_type=RECORD_TYPE)
    except InvalidRecord as bad:
        raise ProtocolError(f"message signature does not verify: {bad}", 401) from None
    body = record.body
    message_id, kind, sender, recipient = (body.get(k) for k in ("id", "kind", "from", "to"))
    if not all(isinstance(v, str) and v for v in (message_id, kind, sender, recipient)):
        raise ProtocolError("the message does not say its id, kind, sender and recipient")
    assert isinstance(message_id, str) and isinstance(kind, str) and isinstance(sender, str)  # checked above
    if sender != record.signer.party:
        raise ProtocolError(f"message claims to come from {sender} but {record.signer.party} signed it", 401)
    try:
        sent_at = datetime.fromisoformat(str(body.get("sent_at")))
    except ValueError:
        raise ProtocolError("sent_at is not an ISO 8601 time") from None
    if sent_at.tzinfo is None:
        raise ProtocolError("sent_at has no time zone")
    envelope = Envelope(message_id, kind, sender, str(recipient), sent_at)
    payload = body.get("payload")
    if not isinstance(payload, bytes):
        return Unreadable(envelope, "the message carries no payload")
    try:
        return PeerMessage(envelope, decode(kind, payload))
    except Malformed as bad:
        return Unreadable(envelope, str(bad))
