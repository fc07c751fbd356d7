"""What the handlers of partners' messages share (services/inbound_handlers.py, agreement_inbound.py): the
refusal they raise, the details a receipt carries, and the reading of a signed record a message carries."""

from __future__ import annotations

from typing import Any

from gsomia.crypto import InvalidRecord, VerifiedRecord
from gsomia.domain.requests import Decision, refusal
from gsomia.services import record_bodies
from gsomia.services.context import Node
from gsomia.services.record_bodies import B
from gsomia.services.wire import Malformed

Details = dict[str, Any]


class Refused(Exception):
    """A message refused: what its handler wrote is rolled back; `inbound` audits `decision` as `action`."""

    def __init__(self, decision: Decision, action: str, subject: str | None = None) -> None:
        super().__init__(decision.reason)
        self.decision, self.action, self.subject = decision, action, subject


def signed(node: Node, data: bytes, body_type: type[B], action: str, rule: str, subject: str | None = None,
           ) -> tuple[B, VerifiedRecord]:
    """A signed record carried in a message, verified against the partners' keys and read; refused if it
    does not verify (`rule`) or cannot be understood (G4)."""
    try:
        return record_bodies.read(data, body_type, trusted=node.partners.directory)
    except InvalidRecord as bad:
        raise Refused(refusal((rule,), f"the {body_type.record_type} does not verify: {bad}."), action,
                      subject) from None
    except Malformed as bad:
        raise Refused(refusal(("G4",), f"the {body_type.record_type} cannot be understood: {bad}."), action,
                      subject) from None
