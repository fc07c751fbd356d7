"""The one way our own signed structures are read and written: frozen dataclasses whose fields are the
wire's keys, as deterministic CBOR maps (peer messages, the bodies of signed records).

`from_map` checks each field's presence, type and size once, where the bytes come in, so that no code
behind it meets a missing key, a wrong type or an unbounded text. Field types understood: str, bytes,
bool, int (64-bit), `X | None`, `tuple[X, ...]`. A field whose wire name is a Python keyword names it
in its metadata: `field(metadata={"wire": "from"})`.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from dataclasses import MISSING, Field, fields
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")
MAX_TEXT = 20_000    # characters in any one text field (a reason, a purpose)
MAX_ENTRIES = 256    # entries in any one list (consents carried, hops of provenance)


class Malformed(ValueError):
    """What came in cannot be understood: not a map, an unknown kind, a field missing or of the wrong type."""


def to_map(value: Any) -> dict[str, Any]:
    """A dataclass's fields by their wire names (`field(metadata={"wire": …})` where the name is a Python
    keyword), tuples as lists: what `from_map` reads back."""
    return {_wire_name(f): list(v) if isinstance(v := getattr(value, f.name), tuple) else v for f in fields(value)}


def _wire_name(f: Field[Any]) -> str:
    return str(f.metadata.get("wire", f.name))


def from_map(cls: type[T], value: object, what: str, *, more: bool = False) -> T:
    """An instance of the dataclass `cls` from a decoded map whose keys are its field names, each checked
    for its type and size; with `more`, keys beyond the fields are allowed (and ignored)."""
    if not isinstance(value, Mapping):
        raise Malformed(f"the {what} is not a map")
    wanted = _schema(cls)  # type: ignore[arg-type]  # a class is hashable; mypy's Hashable check misses it
    unknown = set(value) - {wire for wire, _, _ in wanted.values()}
    if unknown and not more:
        raise Malformed(f"the {what} has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    found: dict[str, Any] = {}
    for name, (wire, expected, required) in wanted.items():
        if wire not in value:
            if required:
                raise Malformed(f"the {what} has no {wire}")
            continue
        found[name] = _checked(value[wire], expected, f"{what}.{wire}")
    return cls(**found)


@functools.cache
def _schema(cls: type[Any]) -> dict[str, tuple[str, Any, bool]]:
    """Per field: its wire name, its type, and whether the wire must carry it (those without a default)."""
    hints = get_type_hints(cls)
    return {f.name: (_wire_name(f), hints[f.name], f.default is MISSING and f.default_factory is MISSING)
            for f in fields(cls)}


def _checked(value: Any, expected: Any, where: str) -> Any:
    origin = get_origin(expected)
    if origin in (types.UnionType, Union):  # X | None
        if value is None and type(None) in get_args(expected):
            return None
        (inner,) = [a for a in get_args(expected) if a is not type(None)]
        return _checked(value, inner, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) > MAX_ENTRIES:
            raise Malformed(f"{where} is not a list of at most {MAX_ENTRIES} entries")
        inner = get_args(expected)[0]
        return tuple(_checked(v, inner, where) for v in value)
    if expected is bool:
        if not isinstance(value, bool):
            raise Malformed(f"{where} is not true or false")
        return value
    if expected is int:
        if type(value) is not int or not -(2**63) <= value < 2**63:
            raise Malformed(f"{where} is not a 64-bit integer")
        return value
    if expected is str:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise Malformed(f"{where} is not a text of at most {MAX_TEXT} characters")
        return value
    if expected is bytes:
        if not isinstance(value, bytes):
            raise Malformed(f"{where} is not a byte string")
        return value
    raise TypeError(f"{where}: no wire form for {expected!r}")  # a programming error: a field type added here
