"""Requests as plain JSON-like mappings → domain objects, with errors that name the field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gsomia.domain.catalog import Catalog
from gsomia.domain.consents import Consent
from gsomia.domain.errors import DomainError
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, OfficialStatus, Role
from gsomia.domain.requests import Action, Request
from gsomia.domain.schemes import Schemes
from gsomia.domain.timeutil import parse_instant

REQUEST_FIELDS = frozenset({"action", "at", "subject", "item", "recipient", "via", "consents", "agreement",
                            "item_id", "purpose", "classification"})


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DomainError(f"{where} must be an object")
    return value


def _strings(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise DomainError(f"{where} must be a list of strings")
    if not all(isinstance(v, str) for v in value):
        raise DomainError(f"{where} must be a list of strings")
    return frozenset(value)


def _party(schemes: Schemes, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise DomainError(f"{where} must be a party code such as KOR")
    try:
        return schemes.require_party(value.strip().upper())
    except DomainError as bad:
        raise DomainError(f"{where}: {bad}") from None


def _instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise DomainError(f"{where} must be an ISO 8601 time string")
    try:
        return parse_instant(value)
    except DomainError as bad:
        raise DomainError(f"{where}: {bad}") from None


def _optional_instant(value: Any, where: str) -> datetime | None:
    return None if value is None else _instant(value, where)


def official_from_dict(data: Any, schemes: Schemes, where: str = "subject") -> Official:
    data = _mapping(data, where)
    party = _party(schemes, data.get("party"), f"{where}.party")
    clearance_text = data.get("clearance")
    if not isinstance(clearance_text, str):
        raise DomainError(f"{where}.clearance must be a classification such as {party}:II")
    try:
        clearance = schemes.parse(clearance_text if ":" in clearance_text or not clearance_text.isascii()
                                  else f"{party}:{clearance_text}")
    except DomainError as bad:
        raise DomainError(f"{where}.clearance: {bad}") from None
    roles = set()
    for role in _strings(data.get("roles"), f"{where}.roles"):
        try:
            roles.add(Role(role))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise DomainError(f"{where}.roles: unknown role {role!r} (known: {known})") from None
    try:
        status = OfficialStatus(data.get("status", "active"))
    except ValueError:
        raise DomainError(f"{where}.status must be active, suspended or revoked") from None
    return Official(
        party=party, clearance=clearance,
        clearance_expires=_optional_instant(data.get("clearance_expires"), f"{where}.clearance_expires"),
        need_to_know=_strings(data.get("need_to_know"), f"{where}.need_to_know"),
        roles=frozenset(roles), id=str(data.get("id", "")), name=str(data.get("name", "")), status=status,
    )


def label_from_dict(data: Any, schemes: Schemes, at: datetime, where: str = "item") -> Label:
    data = _mapping(data, where)
    originator = _party(schemes, data.get("originator"), f"{where}.originator")
    text = data.get("classification")
    if not isinstance(text, str):
        raise DomainError(f"{where}.classification must be a classification such as KOR:II")
    try:
        classification = schemes.parse(text)
        national_text = data.get("national_marking")
        national = schemes.parse(str(national_text)) if national_text else None
    except DomainError as bad:
        raise DomainError(f"{where}: {bad}") from None
    purpose = data.get("purpose", "")
    if not isinstance(purpose, str):
        raise DomainError(f"{where}.purpose must be a string")
    return Label(
        originator=originator,
        policy=str(data.get("policy") or originator),
        classification=classification,
        releasable_to=frozenset(_party(schemes, p, f"{where}.releasable_to")
                                for p in _strings(data.get("releasable_to"), f"{where}.releasable_to")),
        topics=_strings(data.get("topics"), f"{where}.topics"),
        purpose=purpose,
        created_at=_optional_instant(data.get("created_at"), f"{where}.created_at") or at,
        rights_note=str(data.get("rights_note") or ""),
        provider=_party(schemes, data["provider"], f"{where}.provider") if data.get("provider") else None,
        national_marking=national,
    )


def consent_from_dict(data: Any, schemes: Schemes, where: str) -> Consent:
    data = _mapping(data, where)
    item = data.get("item")
    topics = data.get("topics")
    if item is None and topics is None:
        raise DomainError(f"{where} must name an item or a list of topics")
    return Consent(
        by=_party(schemes, data.get("by"), f"{where}.by"),
        to=_party(schemes, data.get("to"), f"{where}.to"),
        item_id=str(item) if item is not None else None,
        topics=_strings(topics, f"{where}.topics") if topics is not None else None,
        until=_optional_instant(data.get("until"), f"{where}.until"),
        granted_at=_optional_instant(data.get("granted_at"), f"{where}.granted_at"),
        id=str(data.get("id", "")),
    )


def request_from_dict(data: Any, catalog: Catalog) -> Request:
    """Build a policy request; raises DomainError naming the first field that is wrong."""
    data = _mapping(data, "request")
    unknown = set(data) - REQUEST_FIELDS
    if unknown:
        raise DomainError(f"unknown request field(s): {', '.join(sorted(unknown))}")
    schemes = catalog.schemes
    try:
        action = Action(data.get("action"))
    except ValueError:
        raise DomainError(f"action must be one of: {', '.join(a.value for a in Action)}") from None
    at = _instant(data.get("at"), "at")
    agreement = data.get("agreement")
    if agreement is not None:
        catalog.agreement(str(agreement))
    consents = data.get("consents") or []
    if not isinstance(consents, list):
        raise DomainError("consents must be a list")
    new = data.get("classification")
    return Request(
        action=action,
        at=at,
        subject=official_from_dict(data.get("subject"), schemes),
        item=label_from_dict(data.get("item"), schemes, at),
        recipient=_party(schemes, data["recipient"], "recipient") if data.get("recipient") else None,
        via=_party(schemes, data["via"], "via") if data.get("via") else None,
        consents=tuple(consent_from_dict(c, schemes, f"consents[{i}]") for i, c in enumerate(consents)),
        agreement=str(agreement) if agreement is not None else None,
        item_id=str(data["item_id"]) if data.get("item_id") is not None else None,
        purpose=str(data["purpose"]) if data.get("purpose") is not None else None,
        new_classification=schemes.parse(str(new)) if new else None,
    )
