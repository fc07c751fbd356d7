"""The catalogue: every known scheme and agreement, indexed for the policy's hot path."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import date, datetime
from typing import Any

from gsomia.domain.agreements import Agreement
from gsomia.domain.errors import DomainError, UnknownAgreement
from gsomia.domain.life import Status, status_on
from gsomia.domain.schemes import Schemes


class Catalog:
    def __init__(self, schemes: Schemes, agreements: Iterable[Agreement]) -> None:
        self.schemes = schemes
        self._agreements: dict[str, Agreement] = {}
        for agreement in agreements:
            if agreement.id in self._agreements:
                raise DomainError(f"agreement {agreement.id} is defined twice")
            self._agreements[agreement.id] = agreement
        for agreement in self._agreements.values():
            for other in agreement.rides_on:
                if other not in self._agreements:
                    raise DomainError(f"{agreement.id} rides on {other}, which is not in the catalogue")
        # Binding agreements first: where both a treaty and an arrangement apply, the treaty governs.
        ordered = sorted(self._agreements.values(), key=lambda a: (not a.binding, a.id))
        self._by_pair: dict[frozenset[str], tuple[Agreement, ...]] = {}
        for a in ordered:
            for x in a.parties:
                for y in a.parties:
                    if x != y:
                        key = frozenset((x, y))
                        self._by_pair[key] = (*self._by_pair.get(key, ()), a)
        self._status_cache: dict[tuple[str, date], Status] = {}
        # Agreement state changes only at local midnight; these offsets say where midnight falls.
        self._offsets = tuple(sorted({int(a.timezone.utcoffset(None).total_seconds()) for a in ordered}))
        self.memo: dict[Hashable, Any] = {}

    @property
    def agreements(self) -> tuple[Agreement, ...]:
        return tuple(self._agreements.values())

    def agreement(self, agreement_id: str) -> Agreement:
        try:
            return self._agreements[agreement_id]
        except KeyError:
            known = ", ".join(sorted(self._agreements))
            raise UnknownAgreement(f"unknown agreement {agreement_id!r} (known: {known})") from None

    def between(self, a: str, b: str) -> tuple[Agreement, ...]:
        """Agreements to which both parties belong, binding ones first."""
        return self._by_pair.get(frozenset((a, b)), ())

    def day_key(self, at: datetime) -> Hashable:
        """Identifies the local date in every agreement's time zone: equal keys, equal agreement states."""
        t = int(at.timestamp())
        if len(self._offsets) == 1:
            return (t + self._offsets[0]) // 86400
        return tuple((t + offset) // 86400 for offset in self._offsets)

    def remember(self, key: Hashable, value: Any) -> None:
        """A bounded memo for the policy's derived facts (pure functions of the catalogue and key)."""
        if len(self.memo) > 100_000:
            self.memo.clear()
        self.memo[key] = value

    def status(self, agreement: Agreement, at: datetime) -> Status:
        on = at.astimezone(agreement.timezone).date()
        key = (agreement.id, on)
        cached = self._status_cache.get(key)
        if cached is None:
            if len(self._status_cache) > 65536:
                self._status_cache.clear()
            cached = self._status_cache[key] = status_on(agreement, on)
        return cached
