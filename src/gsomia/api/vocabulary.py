"""What the API's schema promises, made as exact as the server's checks: a schema-valid request is never
refused for its shape (schemathesis' positive-data check holds us to it, tests/api/test_openapi.py).

Some fields take values that are the node's data, not the code's: parties and classification markings
(a party added by data alone is accepted at once). The models mark those fields with a vocabulary
(`Party`, `Marking`, `QualifiedMarking`, `OwnMarking`, `AgreementId`) and `published_schema` writes each
one out as the `enum` the node accepts today, every time the document is asked for (an amendment can
change the table at run time).

It also states the checks made on every request's texts (gsomia.edge.limits, domain.timeutil): no text
(nor key) holds a NUL character; a required text (minLength 1) is more than white space; every instant
and date lies within 1900..2200 (the pattern on the year is a little narrower, 1901..2199, so that no
offset can carry a schema-valid time outside the range).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import Field

from gsomia.domain.catalog import Catalog

VOCABULARY = "x-gsomia-vocabulary"
NO_NUL = "^[^\\x00]*$"
# A required text: something but white space, as str.strip() (the servers') sees it: `\s` is not used, since
# regex engines (and hypothesis' generator) disagree with str.isspace on \x1c-\x1f and \x85.
_NOT_SPACE = "[^\\x00-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
NOT_BLANK = f"^[^\\x00]*{_NOT_SPACE}[^\\x00]*$"
YEARS_1901_TO_2199 = "^(190[1-9]|19[1-9][0-9]|20[0-9][0-9]|21[0-9][0-9])-"

Party = Annotated[str, Field(pattern="^[A-Z][A-Z0-9]{1,15}$", description="A party code, e.g. KOR.",
                             json_schema_extra={VOCABULARY: "party"})]
Marking = Annotated[str, Field(min_length=1, max_length=100, json_schema_extra={VOCABULARY: "marking"},
                               description="PARTY:CODE (e.g. KOR:II) or a native marking.")]
AgreementId = Annotated[str, Field(min_length=1, max_length=100, json_schema_extra={VOCABULARY: "agreement"},
                                   description="An agreement's id, e.g. jpn-kor-gsomia-2016.")]
QualifiedMarking = Annotated[str, Field(min_length=1, max_length=100, json_schema_extra={VOCABULARY: "qualified"},
                                        description="PARTY:CODE, e.g. KOR:II.")]
OwnMarking = Annotated[str, Field(min_length=1, max_length=100, json_schema_extra={VOCABULARY: "own-marking"},
                                  description="A marking of this node's party, e.g. KOR:II.")]


def vocabularies(catalog: Catalog, party: str) -> dict[str, list[str]]:
    """Each vocabulary's values on this node today."""
    schemes = catalog.schemes

    def markings(of: str) -> list[str]:
        return [spelling for level in schemes.scheme(of).levels for spelling in (f"{of}:{level.code}", level.marking)]

    return {"party": sorted(schemes.parties),
            "qualified": sorted(f"{p}:{level.code}" for p in schemes.parties for level in schemes.scheme(p).levels),
            "marking": sorted({m for p in schemes.parties for m in markings(p)}),
            "own-marking": sorted(set(markings(party))),
            "agreement": sorted(a.id for a in catalog.agreements)}


def published_schema(schema: dict[str, Any], catalog: Catalog, party: str) -> dict[str, Any]:
    """`schema` (FastAPI's document, changed in place and returned) with the vocabularies' enums and the
    edge's checks written into what requests may hold."""
    values = vocabularies(catalog, party)
    for node in _request_schemas(schema):
        name = node.pop(VOCABULARY, None)
        if name is not None:
            node["enum"] = values[name]
        elif node.get("type") == "string" and node.get("format") in ("date-time", "date"):
            node.setdefault("pattern", YEARS_1901_TO_2199)
        elif node.get("type") == "string" and not ({"enum", "const", "pattern", "format"} & node.keys()):
            node["pattern"] = NOT_BLANK if node.get("minLength", 0) > 0 else NO_NUL
        elif node.get("type") == "object" and node.get("additionalProperties") is not False:
            node.setdefault("propertyNames", {"pattern": NO_NUL})
    for node in _walk(schema):  # in responses, the marker is an internal word: drop it
        node.pop(VOCABULARY, None)
    return schema


def _request_schemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every schema node a request can reach: parameters and request bodies, following `$ref`s once."""
    components = schema.get("components", {}).get("schemas", {})
    roots: list[Any] = []
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            roots += [p.get("schema") for p in operation.get("parameters", [])]
            roots += [m.get("schema") for m in operation.get("requestBody", {}).get("content", {}).values()]
    seen: set[str] = set()
    pending = [r for r in roots if isinstance(r, dict)]
    while pending:
        for node in _walk(pending.pop()):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                seen.add(ref)
                pending.append(components[ref.rsplit("/", 1)[-1]])
            yield node


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
