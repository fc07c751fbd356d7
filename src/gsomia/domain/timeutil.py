"""Instants are timezone-aware datetimes; dates in agreements are local to the agreement's zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from gsomia.domain.errors import DomainError

# Every instant the system takes in lies here: far wider than any agreement's life, far inside what
# datetime arithmetic (time zones, a year's renewals) can do without overflowing.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def parse_instant(text: str) -> datetime:
    """ISO 8601; a bare date means its midnight UTC; a naive time is refused (ambiguous); so is one
    outside EARLIEST..LATEST."""
    text = text.strip()
    try:
        if len(text) == 10:
            return within_range(datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=timezone.utc))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DomainError(f"{text!r} is not an ISO 8601 time (e.g. 2019-11-23T00:00:00+09:00)") from None
    if parsed.tzinfo is None:
        raise DomainError(f"{text!r} has no time zone; write Z or an offset such as +09:00")
    return within_range(parsed)


def within_range(at: datetime) -> datetime:
    """`at` itself, if it lies between EARLIEST and LATEST (and has a zone); DomainError otherwise."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise DomainError(f"{at.isoformat()} has no time zone")
    offset = at.utcoffset()
    assert offset is not None
    naive_utc = at.replace(tzinfo=None)
    if not (EARLIEST.replace(tzinfo=None) + offset <= naive_utc <= LATEST.replace(tzinfo=None) + offset):
        raise DomainError(f"{at.isoformat()} is outside {EARLIEST:%Y}..{LATEST:%Y}")
    return at


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DomainError(f"{text!r} is not an ISO 8601 date (e.g. 2016-11-23)") from None


def parse_offset(text: str) -> timezone:
    """`+09:00` → a fixed offset (agreements are dated in the signatories' local time)."""
    try:
        sign = -1 if text.startswith("-") else 1
        hours, minutes = text.lstrip("+-").split(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    except ValueError:
        raise DomainError(f"{text!r} is not a UTC offset such as +09:00") from None


def format_instant(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
