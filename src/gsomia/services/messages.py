"""What partner nodes tell each other: one frozen dataclass per kind of peer message.

A message's payload is the deterministic CBOR map of its fields (the names below are the wire's keys).
`encode` is the only way one is written and `decode` the only way one is read: it checks every field's
presence, type and size once, at the edge, so a handler never meets a missing key or a wrong type. A
payload that cannot be understood is a `wire.Malformed` error, which the receiver answers with a signed
refusal that the sender records as final.

    item                     an item (sealed envelope) for the final recipient, perhaps through a hub
    receipt                  a hub passes the final recipient's signed receipt back to the originator
    consent-request          a holder asks the originator's consent to pass its item on (R6.a)
    consent                  the originator's answer, with the signed consent when granted
    compromise-report        loss or compromise, to the provider (R17.1); a hub passes it on
    compromise-result        the investigation's result (R17.1)
    recall                   return or destroy (R6.h); hubs pass it on to those they gave the item to
    reclassification         the originator changed the classification (R6.g)
    destruction-certificate  a holder destroyed the item (Art. 13), back to the originator
    audit-checkpoint         a node's signed audit head, kept by its partners
    agreement-event          an agreement event recorded by the sender's security officer, proposed to the
                             other parties of the agreement (held until their own officer confirms it)
    agreement-answer         a party's signed confirmation or rejection of an event; the recording node
                             passes a rejection on to the other parties
    agreement-version        the sender's version of an agreement (digest, its events) after it changed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias, get_args

import cbor2

from gsomia.services.wire import Malformed, from_map, to_map


@dataclass(frozen=True, slots=True)
class ItemMessage:
    kind: ClassVar[str] = "item"
    item_ref: str                   # the originator's id of the item: how every node names it
    originator: str
    envelope: bytes                 # sealed to the final recipient (and the hub), signed by the originator
    final: str                      # the party the item is for
    via: str | None                 # the hub it travels through (T4), if any
    consents: tuple[bytes, ...]     # the originator's signed consents that cover this item (R6.a, T5)
    provenance: tuple[str, ...]     # the parties it passed through, the originator first
    disclosed_by: str | None = None  # a holder passing on another party's item (R6.a)
    # The agreement the sender decided it under, and the sender's version of it (G5: the receiver holds the same).
    agreement: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiptMessage:
    kind: ClassVar[str] = "receipt"
    item_ref: str
    receipt: bytes                  # the final recipient's signed receipt, as it answered the hub


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    kind: ClassVar[str] = "consent-request"
    consent_id: str
    item_ref: str
    to: str                         # the third party the item would go to
    purpose: str


@dataclass(frozen=True, slots=True)
class ConsentAnswer:
    kind: ClassVar[str] = "consent"
    consent_id: str
    granted: bool
    record: bytes | None            # the signed consent, when granted
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CompromiseReportMessage:
    kind: ClassVar[str] = "compromise-report"
    report_id: str
    record: bytes                   # the reporter's signed report


@dataclass(frozen=True, slots=True)
class CompromiseResultMessage:
    kind: ClassVar[str] = "compromise-result"
    report_id: str
    record: bytes                   # the reporter's signed result


@dataclass(frozen=True, slots=True)
class RecallMessage:
    kind: ClassVar[str] = "recall"
    item_ref: str
    originator: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReclassificationMessage:
    kind: ClassVar[str] = "reclassification"
    item_ref: str
    originator: str
    classification: str             # the originator's new marking, in its own scheme
    reason: str


@dataclass(frozen=True, slots=True)
class DestructionCertificateMessage:
    kind: ClassVar[str] = "destruction-certificate"
    item_ref: str
    originator: str
    holder: str                     # the party that destroyed its copy
    certificate: bytes              # signed by the holder


@dataclass(frozen=True, slots=True)
class AuditCheckpointMessage:
    kind: ClassVar[str] = "audit-checkpoint"
    record: bytes                   # the sender's signed audit checkpoint


@dataclass(frozen=True, slots=True)
class AgreementEventMessage:
    kind: ClassVar[str] = "agreement-event"
    record: bytes                   # the recording node's signed event (record_bodies.AgreementEventBody)


@dataclass(frozen=True, slots=True)
class AgreementAnswerMessage:
    kind: ClassVar[str] = "agreement-answer"
    record: bytes                   # a party's signed confirmation or rejection (record_bodies.AgreementAnswerBody)


@dataclass(frozen=True, slots=True)
class AgreementVersionMessage:
    kind: ClassVar[str] = "agreement-version"
    agreement: str
    digest: str                     # the sender's version of the agreement (domain/versions.py)
    baseline: str                   # the digest of its shipped data
    event_ids: tuple[str, ...]      # the events it applies …
    event_digests: tuple[str, ...]  # … and the digest of each


Payload: TypeAlias = (ItemMessage | ReceiptMessage | ConsentRequest | ConsentAnswer | CompromiseReportMessage
                      | CompromiseResultMessage | RecallMessage | ReclassificationMessage
                      | DestructionCertificateMessage | AuditCheckpointMessage | AgreementEventMessage
                      | AgreementAnswerMessage | AgreementVersionMessage)

KINDS: dict[str, type[Payload]] = {cls.kind: cls for cls in get_args(Payload)}


def encode(message: Payload) -> bytes:
    """The payload's bytes: its fields as a deterministic CBOR map (tuples as arrays)."""
    return cbor2.dumps(to_map(message), canonical=True)


def decode(kind: str, data: bytes) -> Payload:
    """The message of `kind` in `data`; Malformed saying what is wrong with it."""
    cls = KINDS.get(kind)
    if cls is None:
        raise Malformed(f"unknown message kind {kind!r}")
    try:
        value = cbor2.loads(data)
    except Exception as bad:  # cbor2 raises several unrelated types on hostile bytes
        raise Malformed(f"the {kind} payload is not CBOR ({type(bad).__name__})") from None
    return from_map(cls, value, f"{kind} payload")
