"""The catalogue: every known scheme and agreement, indexed for the policy's hot path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from types import MappingProxyType

from gsomia.domain.agreements import Agreement, Relay
from gsomia.domain.errors import DomainError, UnknownAgreement
from gsomia.domain.life import Status, status_on
from gsomia.domain.memo import BoundedCache
from gsomia.domain.requests import Decision
from gsomia.domain.schemes import Classification, Schemes
from gsomia.domain.versions import AgreementVersion, version_of

# The local date in every agreement's time zone (one number when they share one): see Catalog.day_key.
DayKey = int | tuple[int, ...]

# The memos' keys and answers are plain tuples, typed. A NamedTuple takes ~0.3 µs more to build: as the
# governing answer it cost 8-9% of bench_policy's "gsomia single, cold", and a key is built per decision.
# (agreement asked for, origin, to, via, classification, topics, day)
GoverningQuestion = tuple[str | None, str, str, str | None, Classification, frozenset[str], DayKey]
# (the governing agreement, its relay path, every (rule id, reason) against the path): policy.governing_agreement
GoverningAnswer = tuple[Agreement | None, Relay | None, tuple[tuple[str, str], ...]]
# (releasing party, to, via, classification, governing agreement id)
ReleaseQuestion = tuple[str, str, str | None, Classification, str]


class Catalog:
    """Schemes and agreements, with each agreement's version (domain/versions.py): without `versions`,
    each is the version of its data alone (the shipped baseline)."""

    def __init__(self, schemes: Schemes, agreements: Iterable[Agreement],
                 versions: Mapping[str, AgreementVersion] | None = None) -> None:
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
        self._versions = dict(versions) if versions is not None else versions_for(self._agreements)
        if self._versions.keys() != self._agreements.keys():
            raise DomainError("a catalogue's versions must name exactly its agreements")
        # Binding agreements first: where both a treaty and an arrangement apply, the treaty governs.
        ordered = sorted(self._agreements.values(), key=lambda a: (not a.binding, a.id))
        self._by_pair: dict[frozenset[str], tuple[Agreement, ...]] = {}
        for a in ordered:
            for x in a.parties:
                for y in a.parties:
                    if x != y:
                        key = frozenset((x, y))
                        self._by_pair[key] = (*self._by_pair.get(key, ()), a)
        # Agreement state changes only at local midnight; these offsets say where midnight falls.
        self._offsets = tuple(sorted({int(a.timezone.utcoffset(None).total_seconds()) for a in ordered}))
        # Derived facts, each a pure function of the agreements and its key; forget() empties them.
        self._status_cache: BoundedCache[tuple[str, date], Status] = BoundedCache(65536)
        self.governing: BoundedCache[GoverningQuestion, GoverningAnswer] = BoundedCache(100_000)
        self.allowed_releases: BoundedCache[ReleaseQuestion, Decision] = BoundedCache(10_000)

    @property
    def agreements(self) -> tuple[Agreement, ...]:
        return tuple(self._agreements.values())

    def agreement(self, agreement_id: str) -> Agreement:
        try:
            return self._agreements[agreement_id]
        except KeyError:
            known = ", ".join(sorted(self._agreements))
            raise UnknownAgreement(f"unknown agreement {agreement_id!r} (known: {known})") from None

    def version(self, agreement_id: str) -> AgreementVersion:
        self.agreement(agreement_id)  # UnknownAgreement, naming the known ones
        return self._versions[agreement_id]

    def versions(self) -> Mapping[str, AgreementVersion]:
        return MappingProxyType(self._versions)

    def between(self, a: str, b: str) -> tuple[Agreement, ...]:
        """Agreements to which both parties belong, binding ones first."""
        return self._by_pair.get(frozenset((a, b)), ())

    def day_key(self, at: datetime) -> DayKey:
        """Identifies the local date in every agreement's time zone: equal keys, equal agreement states."""
        t = int(at.timestamp())
        if len(self._offsets) == 1:
            return (t + self._offsets[0]) // 86400
        return tuple((t + offset) // 86400 for offset in self._offsets)

    def forget(self) -> None:
        """Forget every derived fact: agreement statuses and the policy's remembered answers. Call it when
        an agreement's state changes otherwise than by the date (a notice recorded at run time)."""
        self._status_cache.clear()
        self.governing.clear()
        self.allowed_releases.clear()

    def status(self, agreement: Agreement, at: datetime) -> Status:
        on = at.astimezone(agreement.timezone).date()
        key = (agreement.id, on)
        cached = self._status_cache.get(key)
        if cached is None:
            cached = self._status_cache.put(key, status_on(agreement, on))
        return cached


def versions_for(baselines: Mapping[str, Agreement],
                 applied: Mapping[str, Iterable[tuple[str, str]]] | None = None) -> dict[str, AgreementVersion]:
    """Each agreement's version: its baseline, the (event id, digest) pairs applied to it, and the versions of
    the agreements it rides on (computed first)."""
    versions: dict[str, AgreementVersion] = {}
    events = applied or {}

    def version(agreement_id: str, seen: tuple[str, ...]) -> AgreementVersion:
        if agreement_id in seen:
            raise DomainError(f"{agreement_id} rides on itself through {' → '.join(seen)}")
        if agreement_id not in versions:
            baseline = baselines[agreement_id]
            versions[agreement_id] = version_of(baseline, events.get(agreement_id, ()),
                                                [version(other, (*seen, agreement_id)) for other in baseline.rides_on])
        return versions[agreement_id]

    for agreement_id in baselines:
        version(agreement_id, ())
    return versions
