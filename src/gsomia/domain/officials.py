"""Appointed officials as the policy sees them (R6.e, R7)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from gsomia.domain.schemes import Classification


class Role(str, enum.Enum):
    READER = "reader"
    RELEASING_OFFICIAL = "releasing_official"
    SECURITY_OFFICER = "security_officer"
    # The node's own service identity: receives, relays and records on the party's behalf.
    NODE = "node"


class OfficialStatus(str, enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Official:
    party: str
    clearance: Classification
    clearance_expires: datetime | None
    need_to_know: frozenset[str]
    roles: frozenset[Role]
    id: str = ""
    name: str = ""
    status: OfficialStatus = OfficialStatus.ACTIVE

    def clearance_valid_at(self, at: datetime) -> bool:
        return self.clearance_expires is None or at < self.clearance_expires
