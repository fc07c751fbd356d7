"""Written consent of a providing party (R6.a, T5) as data; the crypto layer signs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gsomia.domain.labels import Label


@dataclass(frozen=True, slots=True)
class Consent:
    by: str                           # the party whose information it is (the originator)
    to: str                           # the third party it may go to
    item_id: str | None = None        # one item ...
    topics: frozenset[str] | None = None  # ... or a standing scope of topics
    until: datetime | None = None
    granted_at: datetime | None = None
    id: str = ""

    def covers(self, label: Label, item_id: str | None, to: str, at: datetime) -> bool:
        if self.by != label.originator or self.to != to:
            return False
        if self.until is not None and at >= self.until:
            return False
        if self.granted_at is not None and at < self.granted_at:
            return False
        if self.item_id is not None:
            return item_id is not None and self.item_id == item_id
        if self.topics is not None:
            return bool(label.topics) and label.topics <= self.topics
        return False  # a consent naming neither an item nor topics grants nothing
