"""What the policy is asked, and what it answers."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official
from gsomia.domain.schemes import Classification


class Action(str, enum.Enum):
    ORIGINATE = "originate"
    RELEASE = "release"        # the originator gives its item to a partner
    RECEIVE = "receive"        # a node accepts an item from a partner
    READ = "read"
    COPY = "copy"
    TRANSLATE = "translate"
    DISCLOSE = "disclose"      # a holder passes another party's item to a third party
    RELAY = "relay"            # a hub forwards an item between two other parties
    RECLASSIFY = "reclassify"
    DESTROY = "destroy"


@dataclass(frozen=True, slots=True)
class Request:
    action: Action
    at: datetime
    subject: Official
    item: Label
    recipient: str | None = None
    via: str | None = None
    consents: tuple[Consent, ...] = ()
    agreement: str | None = None
    item_id: str | None = None
    purpose: str | None = None                       # the purpose of this use (R6.b)
    new_classification: Classification | None = None  # for reclassify
    sender: str | None = None   # receive: the party whose node delivered it (default: the hub, else the originator)
    signer: str | None = None   # receive: the party whose key signed the sealed item, when it came sealed
    # receive: (agreement id, version digest) the sender decided under, as its message says (G5)
    decided_under: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    agreement: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "rules": list(self.rules), "reasons": list(self.reasons),
                "agreement": self.agreement}

    @property
    def reason(self) -> str:
        return " ".join(self.reasons)


def refusal(rules: Sequence[str], *reasons: str, agreement: str | None = None) -> Decision:
    """A refusal with its rule ids and reasons, for checks that need no request (a message that cannot be
    read, a record that does not verify): every refusal is a Decision, whoever makes it."""
    return Decision(False, tuple(rules), reasons, agreement)
