"""The records the services hand to the transports (feed, federation) and take back from them: the store's
plain record types, named here so that a transport depends on the services alone, never on storage."""

from __future__ import annotations

from gsomia.storage.exchange import Claimant, Enqueued, OutboxMessage
from gsomia.storage.records import Stored, Unsaved

__all__ = ["Claimant", "Enqueued", "OutboxMessage", "Stored", "Unsaved"]
