"""Shipped data: classification schemes (one file per party) and agreements (one file each).

More can be added by data alone: set GSOMIA_EXTRA_DATA to a directory with `schemes/*.toml` and
`agreements/*.toml`; they are loaded after the shipped ones.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Iterator
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from gsomia.domain.agreements import agreement_from_dict
from gsomia.domain.catalog import Catalog
from gsomia.domain.errors import DomainError
from gsomia.domain.schemes import Level, Scheme, Schemes, Tier


def _toml_files(root: Traversable | Path, folder: str) -> Iterator[tuple[str, dict[str, Any]]]:
    directory = root / folder
    if not directory.is_dir():
        return
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            try:
                yield entry.name, tomllib.loads(entry.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as bad:
                raise DomainError(f"{folder}/{entry.name}: {bad}") from None


def scheme_from_dict(data: dict[str, Any], source: str) -> Scheme:
    try:
        party = str(data["party"])
        levels = tuple(
            Level(party=party, code=str(lv["code"]), marking=str(lv["marking"]),
                  romanisation=str(lv.get("romanisation", lv["code"])), tier=Tier[str(lv["tier"])],
                  legacy=bool(lv.get("legacy", False)))
            for lv in data["levels"]
        )
    except KeyError as missing:
        raise DomainError(f"{source}: missing or unknown {missing.args[0]!r}") from None
    return Scheme(party=party, name=str(data.get("name", party)), levels=levels)


def _roots(extra: str | None) -> list[Traversable | Path]:
    roots: list[Traversable | Path] = [resources.files("gsomia.data")]
    if extra:
        roots.append(Path(extra))
    return roots


@functools.lru_cache(maxsize=4)
def load_catalog(extra: str | None = None) -> Catalog:
    """The shipped catalogue, plus GSOMIA_EXTRA_DATA (or `extra`) when given."""
    extra = extra if extra is not None else os.environ.get("GSOMIA_EXTRA_DATA") or None
    roots = _roots(extra)
    schemes = Schemes(scheme_from_dict(d, f"schemes/{n}") for r in roots for n, d in _toml_files(r, "schemes"))
    agreements = [agreement_from_dict(d, schemes) for r in roots for _, d in _toml_files(r, "agreements")]
    return Catalog(schemes, agreements)
