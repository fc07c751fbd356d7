"""The peer protocol's one message shape: a signed record ("peer-message") carrying a kind and a payload.

    {id, kind, from, to, sent_at, payload}

`id` is stable across retries (idempotency); `sent_at` is fresh on every attempt, so a receiver can
refuse captured messages replayed outside its window while still answering a genuine retry. The
payload is deterministic CBOR; sealed envelopes and other signed records ride inside it as bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import cbor2

from gsomia.crypto import InvalidRecord, KeyDirectory, KeyRing, sign_records, verify_record

RECORD_TYPE = "peer-message"
REPLAY_WINDOW = timedelta(minutes=5)

KINDS = frozenset({"item", "receipt", "consent-request", "consent", "compromise-report", "compromise-result",
                   "recall", "destruction-certificate", "reclassification", "audit-checkpoint"})


class ProtocolError(ValueError):
    """A peer message that must be refused; `status` is the HTTP status the peer endpoint answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class PeerMessage:
    id: str
    kind: str
    sender: str
    recipient: str
    sent_at: datetime
    payload: dict[str, Any]


def encode_payload(payload: dict[str, Any]) -> bytes:
    return cbor2.dumps(payload, canonical=True)


def decode_payload(data: bytes) -> dict[str, Any]:
    try:
        value = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as bad:
        raise ProtocolError(f"payload is not CBOR: {bad}") from None
    if not isinstance(value, dict):
        raise ProtocolError("payload is not a map")
    return value


def sign_message(keys: KeyRing, message_id: str, kind: str, to: str, payload: bytes, at: datetime) -> bytes:
    return sign_messages(keys, [(message_id, kind, to, payload)], at)[0]


def sign_messages(keys: KeyRing, messages: Sequence[tuple[str, str, str, bytes]], at: datetime) -> list[bytes]:
    """(id, kind, to, payload) each, signed together: one signature for the batch, each message still
    verifiable alone (crypto.sign_records)."""
    bodies = [{"id": message_id, "kind": kind, "from": keys.party, "to": to, "sent_at": at.isoformat(),
               "payload": payload} for message_id, kind, to, payload in messages]
    return sign_records(RECORD_TYPE, bodies, signer=keys, at=at)


def open_message(data: bytes, *, trusted: KeyDirectory, own_party: str, now: datetime) -> PeerMessage:
    """Verify and unpack; every failure is a ProtocolError naming what was wrong."""
    try:
        record = verify_record(data, trusted=trusted, expected_type=RECORD_TYPE)
    except InvalidRecord as bad:
        raise ProtocolError(f"message signature does not verify: {bad}", 401) from None
    body = record.body
    try:
        sent_at = datetime.fromisoformat(str(body["sent_at"]))
        message = PeerMessage(str(body["id"]), str(body["kind"]), str(body["from"]), str(body["to"]), sent_at,
                              decode_payload(bytes(body["payload"])))
    except (KeyError, TypeError, ValueError) as bad:
        if isinstance(bad, ProtocolError):
            raise
        raise ProtocolError(f"malformed message: {bad}") from None
    if message.sender != record.signer.party:
        raise ProtocolError(f"message claims to come from {message.sender} but {record.signer.party} signed it", 401)
    if message.recipient != own_party:
        raise ProtocolError(f"message is addressed to {message.recipient}, not {own_party}", 421)
    if message.kind not in KINDS:
        raise ProtocolError(f"unknown message kind {message.kind!r}")
    if sent_at.tzinfo is None:
        raise ProtocolError("sent_at has no time zone")
    return message


def stale(message: PeerMessage, now: datetime) -> bool:
    return abs(now - message.sent_at) > REPLAY_WINDOW
