"""Instants are timezone-aware datetimes; dates in agreements are local to the agreement's zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from gsomia.domain.errors import DomainError


def parse_instant(text: str) -> datetime:
    """ISO 8601; a bare date means its midnight UTC; a naive time is refused (ambiguous)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DomainError(f"{text!r} is not an ISO 8601 time (e.g. 2019-11-23T00:00:00+09:00)") from None
    if parsed.tzinfo is None:
        raise DomainError(f"{text!r} has no time zone; write Z or an offset such as +09:00")
    return parsed


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
