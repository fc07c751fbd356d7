"""National classification schemes: ordered levels, each with a stable ASCII code and its native marking."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from gsomia.domain.errors import UnknownClassification, UnknownParty


class Tier(enum.IntEnum):
    """The English tiers every national level is compared through (higher is more sensitive)."""

    CONFIDENTIAL = 1
    SECRET = 2
    TOP_SECRET = 3

    @property
    def banner(self) -> str:
        return self.name.replace("_", " ")


@dataclass(frozen=True, slots=True)
class Level:
    party: str
    code: str
    marking: str
    romanisation: str
    tier: Tier
    legacy: bool = False

    @property
    def written(self) -> str:
        return f"{self.party}:{self.code}"


class Classification(NamedTuple):
    """A marking written `PARTY:CODE`, e.g. `KOR:II`. A tuple: hashed in C, on the policy's hot path."""

    party: str
    code: str

    def __str__(self) -> str:
        return f"{self.party}:{self.code}"

    def __repr__(self) -> str:
        return f"Classification({self.party!r}, {self.code!r})"


@dataclass(frozen=True)
class Scheme:
    party: str
    name: str
    levels: tuple[Level, ...]
    _by_code: Mapping[str, Level] = field(init=False, repr=False, compare=False)
    _by_marking: Mapping[str, Level] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {lv.code: lv for lv in self.levels})
        object.__setattr__(self, "_by_marking", {lv.marking: lv for lv in self.levels})

    def level(self, code_or_marking: str) -> Level:
        found = self._by_code.get(code_or_marking) or self._by_marking.get(code_or_marking)
        if found is None:
            known = ", ".join(lv.code for lv in self.levels)
            raise UnknownClassification(
                f"{code_or_marking!r} is not a {self.party} classification (known: {known})"
            )
        return found


class Schemes:
    """Every known party's scheme; parses written classifications and native markings."""

    def __init__(self, schemes: Iterable[Scheme]) -> None:
        self._by_party = {s.party: s for s in schemes}
        self._levels: dict[Classification, Level] = {}
        self.tiers: dict[Classification, Tier] = {}   # the hot path's lookup
        self._by_marking: dict[str, Level] = {}
        for scheme in self._by_party.values():
            for lv in scheme.levels:
                self._levels[Classification(lv.party, lv.code)] = lv
                self.tiers[Classification(lv.party, lv.code)] = lv.tier
                self._by_marking[lv.marking] = lv

    @property
    def parties(self) -> frozenset[str]:
        return frozenset(self._by_party)

    def scheme(self, party: str) -> Scheme:
        try:
            return self._by_party[party]
        except KeyError:
            raise UnknownParty(
                f"unknown party {party!r} (known: {', '.join(sorted(self._by_party))})"
            ) from None

    def require_party(self, party: str) -> str:
        self.scheme(party)
        return party

    def parse(self, text: str) -> Classification:
        """`KOR:II`, or a native marking such as `군사II급비밀` (unambiguous across schemes)."""
        text = text.strip()
        if ":" in text:
            party, _, code = text.partition(":")
            named = self.scheme(party.strip().upper()).level(code.strip())
            return Classification(named.party, named.code)
        native = self._by_marking.get(text)
        if native is None:
            raise UnknownClassification(
                f"{text!r} is neither PARTY:CODE (e.g. KOR:II) nor a known native marking"
            )
        return Classification(native.party, native.code)

    def level(self, classification: Classification) -> Level:
        found = self._levels.get(classification)
        if found is None:
            raise UnknownClassification(f"{classification} is not a known classification")
        return found

    def tier(self, classification: Classification) -> Tier:
        tier = self.tiers.get(classification)
        return tier if tier is not None else self.level(classification).tier
