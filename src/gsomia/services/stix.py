"""STIX 2.1 for gsomia items, both ways: pure functions over labels and plain values (no store, no I/O).

An item becomes three STIX 2.1 objects (OASIS STIX 2.1, CS02):

    marking-definition  its label as a data marking (§7.2), through the property-extension defined by
                        the extension-definition below (§7.3): banner, classification, national marking
                        (R4.4), REL TO, provider, originator, topics, purpose. Not TLP: TLP says who may
                        share, not how secret a thing is, and names no national marking.
    artifact            its content (§6.1), payload_bin in base64, marked with the item's marking
    report              the item (§4.14): name (banner and item id), published, object_refs → the
                        artifact, created_by_ref → the originating party's identity, marked likewise

Shared by every collection: the identity of gsomia (the extension's author), the extension-definition,
and one identity per party. Identifiers are derived (UUIDv5 in a gsomia namespace, see `stable_uuid`): the
same item is the same STIX id on every request and after every restart.

The other way, `drafts_from_envelope` reads what a client POSTs: each `report` marked with one
marking-definition that carries this extension becomes a draft item (label fields and content), which
the caller originates through the policy like any other item.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gsomia.domain.labels import Label, banner_order
from gsomia.domain.schemes import Schemes

SPEC_VERSION = "2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:gsomia:stix:2.1")


def stable_uuid(name: str, *, version: int = 4) -> uuid.UUID:
    """Deterministic: a UUIDv5 of `name`; for SDOs and SMOs re-stamped as version 4 (§2.9 asks for UUIDv4
    there; these 122 bits are a hash instead of random draws, so the same thing keeps its id)."""
    derived = uuid.uuid5(NAMESPACE, name)
    return derived if version == 5 else uuid.UUID(bytes=derived.bytes, version=4)


EXTENSION_ID = f"extension-definition--{stable_uuid('classification-marking/1')}"
GSOMIA_IDENTITY = f"identity--{stable_uuid('gsomia')}"
DEFINED = datetime(2026, 1, 1, tzinfo=timezone.utc)  # when the extension and the identities were defined
ITEM_OBJECTS = 3  # marking-definition, artifact, report: the objects of one item, in this order
EXTENSION_SCHEMA = (
    "A property-extension of marking-definition (STIX 2.1 §7.2, §7.3) carrying a national security"
    " classification label as gsomia keeps it: banner (string, e.g. SECRET//REL TO USA, JPN, KOR),"
    " classification (string, PARTY:CODE in the originator's scheme), national_marking (string, the"
    " holder's equivalent marking, PARTY:CODE, on a received item), releasable_to (list of ISO 3166"
    " trigraphs), provider (trigraph of the providing government, on a received item), originator"
    " (trigraph), policy (string), topics (list of strings), purpose (string, the purpose of provision).")


@dataclass(frozen=True, slots=True)
class ItemView:
    """What the mapping needs of one item: its id, label, times and (when served) its content."""

    item_id: str
    label: Label
    created: datetime
    modified: datetime
    content: bytes | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """A report read from a POSTed envelope: the label fields (for `label_from_dict`) and the content."""

    stix_id: str
    version: str
    label_fields: Mapping[str, Any]
    content: bytes


class Unacceptable(ValueError):
    """An object of a POSTed envelope that cannot become an item; the message says why."""


def timestamp(at: datetime) -> str:
    """A STIX timestamp, UTC, millisecond precision (§3.2: created and modified)."""
    at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _id(kind: str, name: str) -> str:
    return f"{kind}--{stable_uuid(name, version=5 if kind == 'artifact' else 4)}"


def identity_id(party: str) -> str:
    return _id("identity", f"party:{party}")


def report_id(item_id: str) -> str:
    return _id("report", f"item:{item_id}")


def artifact_id(item_id: str) -> str:
    return _id("artifact", f"item:{item_id}")


def marking_id(item_id: str, label_bytes: bytes) -> str:
    """One marking per item and label: a reclassified item gets a new one (markings are immutable, §7.2)."""
    return _id("marking-definition", f"item:{item_id}:{hashlib.sha256(label_bytes).hexdigest()}")


def shared_objects(parties: Sequence[str]) -> list[dict[str, Any]]:
    """The objects every collection starts with: gsomia, the extension-definition, the parties."""
    defined = timestamp(DEFINED)
    common = {"spec_version": SPEC_VERSION, "created": defined, "modified": defined}
    gsomia = {"type": "identity", "id": GSOMIA_IDENTITY, **common, "name": "gsomia", "identity_class": "system",
              "description": "Nodes through which allied defence ministries exchange classified military information."}
    extension = {"type": "extension-definition", "id": EXTENSION_ID, **common, "created_by_ref": GSOMIA_IDENTITY,
                 "name": "gsomia classification marking", "description": "A national security classification"
                 " label (banner, national marking, REL TO, provider) as a STIX data marking; not TLP.",
                 "schema": EXTENSION_SCHEMA, "version": "1.0.0", "extension_types": ["property-extension"]}
    parties_ = [{"type": "identity", "id": identity_id(p), **common, "name": f"{p} ministry of defence",
                 "identity_class": "organization", "sectors": ["defense"]} for p in sorted(parties)]
    return [gsomia, extension, *parties_]


def label_extension(label: Label, schemes: Schemes) -> dict[str, Any]:
    """The label as the extension's properties (see EXTENSION_SCHEMA)."""
    values: dict[str, Any] = {
        "extension_type": "property-extension", "banner": label.banner(schemes),
        "classification": str(label.classification), "releasable_to": banner_order(label.releasable_to),
        "originator": label.originator, "policy": label.policy, "topics": sorted(label.topics),
        "purpose": label.purpose}
    if label.national_marking is not None:
        values["national_marking"] = str(label.national_marking)
    if label.provider is not None:
        values["provider"] = label.provider
    return values


def item_objects(view: ItemView, schemes: Schemes) -> list[dict[str, Any]]:
    """The item's marking-definition, artifact and report (ITEM_OBJECTS, in that order). Without content
    (view.content None) the artifact carries only its hash-free shell: for manifests, never served whole."""
    label, item_id = view.label, view.item_id
    label_bytes = label.canonical_bytes()
    marking = marking_id(item_id, label_bytes)
    banner = label.banner(schemes)
    marking_object = {
        "type": "marking-definition", "spec_version": SPEC_VERSION, "id": marking,
        "created": timestamp(view.modified), "created_by_ref": identity_id(label.originator), "name": banner,
        "extensions": {EXTENSION_ID: label_extension(label, schemes)}}
    artifact: dict[str, Any] = {"type": "artifact", "spec_version": SPEC_VERSION, "id": artifact_id(item_id),
                                "object_marking_refs": [marking]}
    if view.content is not None:
        text = _text(view.content)
        artifact["mime_type"] = "text/plain" if text is not None else "application/octet-stream"
        artifact["payload_bin"] = base64.b64encode(view.content).decode("ascii")
        artifact["hashes"] = {"SHA-256": hashlib.sha256(view.content).hexdigest()}
    report = {
        "type": "report", "spec_version": SPEC_VERSION, "id": report_id(item_id),
        "created": timestamp(view.created), "modified": timestamp(max(view.modified, view.created)),
        "created_by_ref": identity_id(label.originator), "name": f"{banner} — gsomia item {item_id}",
        "description": f"{label.dual_marking(schemes)}. Purpose of provision: {label.purpose or 'not stated'}.",
        "report_types": ["threat-report"], "published": timestamp(view.created),
        "labels": sorted(label.topics) or ["unspecified"], "object_refs": [artifact["id"]],
        "object_marking_refs": [marking],
        "external_references": [{"source_name": "gsomia", "external_id": item_id}]}
    return [marking_object, artifact, report]


def version_of(stix_object: Mapping[str, Any], date_added: str) -> str:
    """The object's version (TAXII 2.1 §3.4.2): modified, else created, else when it was added."""
    return str(stix_object.get("modified") or stix_object.get("created") or date_added)


def _text(content: bytes) -> str | None:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


# --- the other way: a POSTed envelope → draft items ------------------------------------------------

def drafts_from_envelope(objects: Sequence[Any]) -> tuple[list[Draft], list[tuple[str, str, str]]]:
    """The reports of an envelope as drafts, and (id, version, why) for each object refused on its own.
    Markings and artifacts used by an accepted report are part of it; anything else is refused."""
    by_id: dict[str, Mapping[str, Any]] = {}
    for obj in objects:
        if isinstance(obj, Mapping) and isinstance(obj.get("id"), str):
            by_id[obj["id"]] = obj
    drafts: list[Draft] = []
    failures: list[tuple[str, str, str]] = []
    used: set[str] = set()
    for obj in objects:
        if not isinstance(obj, Mapping) or not isinstance(obj.get("id"), str) or not isinstance(obj.get("type"), str):
            failures.append(("", "", "every object needs a string type and id"))
            continue
        if obj["type"] != "report":
            continue
        try:
            draft, parts = _draft(obj, by_id)
        except Unacceptable as why:
            failures.append((obj["id"], version_of(obj, ""), str(why)))
            continue
        drafts.append(draft)
        used.update(parts)
    for obj in objects:
        if isinstance(obj, Mapping) and isinstance(obj.get("id"), str) and obj.get("type") != "report" \
                and obj["id"] not in used:
            failures.append((obj["id"], version_of(obj, ""), f"a {obj.get('type')} is accepted only as the"
                             " marking or the content of a report in the same envelope"))
    return drafts, failures


def _draft(report: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> tuple[Draft, set[str]]:
    if report.get("spec_version") != SPEC_VERSION:
        raise Unacceptable("only STIX 2.1 objects (spec_version 2.1)")
    refs = report.get("object_marking_refs")
    if not isinstance(refs, list) or len(refs) != 1 or not isinstance(refs[0], str):
        raise Unacceptable("a report needs exactly one marking: a marking-definition with the gsomia"
                           f" classification extension ({EXTENSION_ID})")
    marking = by_id.get(refs[0])
    if marking is None or marking.get("type") != "marking-definition":
        raise Unacceptable(f"the report's marking {refs[0]} is not in the envelope")
    extensions = marking.get("extensions")
    fields = extensions.get(EXTENSION_ID) if isinstance(extensions, Mapping) else None
    if not isinstance(fields, Mapping) or not isinstance(fields.get("classification"), str):
        raise Unacceptable(f"the report's marking carries no classification in extension {EXTENSION_ID}")
    content, parts = _content(report, by_id)
    label_fields = {key: fields.get(key) for key in ("classification", "releasable_to", "topics", "purpose")}
    label_fields["releasable_to"] = label_fields["releasable_to"] or []
    label_fields["topics"] = label_fields["topics"] or []
    label_fields["purpose"] = label_fields["purpose"] or ""
    return Draft(report["id"], version_of(report, ""), label_fields, content), {refs[0], *parts}


def _content(report: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> tuple[bytes, set[str]]:
    """The content: the payload of the artifact the report refers to, else the report's description."""
    refs = report.get("object_refs")
    artifacts = [by_id[r] for r in refs or () if isinstance(r, str) and by_id.get(r, {}).get("type") == "artifact"] \
        if isinstance(refs, list) else []
    if len(artifacts) > 1:
        raise Unacceptable("a report may carry one artifact (its content), not several")
    if artifacts:
        payload = artifacts[0].get("payload_bin")
        if not isinstance(payload, str):
            raise Unacceptable("the report's artifact has no payload_bin (a url is not fetched)")
        try:
            return base64.b64decode(payload, validate=True), {str(artifacts[0]["id"])}
        except (binascii.Error, ValueError):
            raise Unacceptable("the artifact's payload_bin is not valid base64") from None
    description = report.get("description")
    if isinstance(description, str) and description:
        return description.encode("utf-8"), set()
    raise Unacceptable("a report needs content: an artifact with payload_bin in object_refs, or a description")
