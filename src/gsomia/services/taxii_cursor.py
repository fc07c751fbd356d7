"""Where a TAXII 2.1 listing stands: positions (each object's own `date_added`) and the `next` cursor.

Every object of a collection has its own date_added, never shared with another: its item's date_added
(storage/taxii.py: stored, one microsecond of its own, given when a listing first finds the item, each
after every one given before, the same on every worker and after restarts) and three more digits that
number the item's objects (marking-definition, artifact, report). Objects are listed in that order, so a
position is one date_added, and "after it" is exact: a client that sends back X-TAXII-Date-Added-Last as
`added_after` gets the next object, no object twice, none lost, and never the same page again (TAXII 2.1
§3.4.1, §3.4.3); an item stored later, by any process, gets a later date_added than any already served.

The `next` cursor (TAXII 2.1 §3.4.3) carries the position, the collection, the official and the
query's filters, authenticated with HMAC-SHA256 under a key derived from the node's keys: no paging
state in the process, valid after a restart, useless to anyone else, refused if altered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from gsomia.services.errors import InvalidInput

PER_INSTANT = 1000  # objects one microsecond can hold (the digits after the microseconds)
ORIGIN = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the shared objects' date_added, before any item
_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", re.ASCII)


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """A date_added: an instant (microseconds) and the object's place among those created in it."""

    at: datetime
    offset: int = 0

    def render(self) -> str:
        """RFC 3339 in UTC with nine fractional digits, e.g. 2026-12-07T03:00:00.123456002Z."""
        at = self.at.astimezone(timezone.utc)
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}{self.offset:03d}Z"


BEFORE_ALL = Position(ORIGIN - timedelta(microseconds=1), PER_INSTANT - 1)


def parse_timestamp(text: str, what: str = "added_after") -> Position:
    """A client's timestamp (RFC 3339, up to nine fractional digits) as a position."""
    found = _TIMESTAMP.fullmatch(text.strip())
    if found is None:
        raise InvalidInput(f"{what} must be an RFC 3339 timestamp such as 2026-01-01T00:00:00.000Z")
    whole, fraction, zone = found.groups()
    try:
        at = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        raise InvalidInput(f"{what}: {text!r} is not a valid date and time") from None
    digits = (fraction or "").ljust(9, "0")
    return Position(at.astimezone(timezone.utc).replace(microsecond=int(digits[:6])), int(digits[6:]))


@dataclass(frozen=True, slots=True)
class Filters:
    """The match[...] parameters of a listing (TAXII 2.1 §3.5): empty means no filter on that field."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        return {"id": list(self.ids), "type": list(self.types), "version": list(self.versions),
                "spec_version": list(self.spec_versions)}

    @classmethod
    def from_json(cls, data: Any) -> Filters:
        if not isinstance(data, dict):
            raise ValueError("filters")
        parts = {k: tuple(str(v) for v in data.get(k) or ()) for k in ("id", "type", "version", "spec_version")}
        return cls(parts["id"], parts["type"], parts["version"] or ("last",), parts["spec_version"])


@dataclass(frozen=True, slots=True)
class Cursor:
    collection: str
    official: str
    filters: Filters
    after: Position
    what: str = field(default="objects")  # objects | manifest: a cursor serves the listing it came from


def seal_cursor(cursor: Cursor, key: bytes) -> str:
    payload = json.dumps({"v": 1, "c": cursor.collection, "o": cursor.official, "w": cursor.what,
                          "f": cursor.filters.to_json(), "a": cursor.after.render()},
                         separators=(",", ":"), sort_keys=True).encode()
    tag = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(tag)}"


def open_cursor(token: str, key: bytes) -> Cursor:
    """The cursor `seal_cursor` made with this key; InvalidInput for anything else (altered, another
    node's, or from before the node's keys were rotated)."""
    refused = InvalidInput("next: not a cursor this node issued (or issued before its keys changed):"
                           " list again from the start or from added_after")
    body, dot, tag = token.partition(".")
    if not dot or len(token) > 8192:
        raise refused
    try:
        payload, given = _unb64(body), _unb64(tag)
    except (binascii.Error, ValueError):
        raise refused from None
    if not hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).digest()[:16], given):
        raise refused
    try:
        data = json.loads(payload)
        return Cursor(str(data["c"]), str(data["o"]), Filters.from_json(data["f"]),
                      parse_timestamp(str(data["a"])), str(data["w"]))
    except (KeyError, TypeError, ValueError, InvalidInput):
        raise refused from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
