"""The HTTP edge's shapes: pydantic here only; the services take and return dataclasses.

Every model forbids unknown request fields, so a misspelt field is a 422, never silently ignored.
Times are ISO 8601 with a zone (`AwareDatetime`): a naive time is ambiguous and refused.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from gsomia.domain.errors import DomainError
from gsomia.domain.officials import OfficialStatus, Role
from gsomia.domain.timeutil import within_range
from gsomia.edge.limits import MAX_ITEM_CONTENT

MAX_CONTENT = MAX_ITEM_CONTENT  # bytes of content in one request; larger items want a streaming upload


def _in_range(at: datetime) -> datetime:
    try:
        return within_range(at)
    except DomainError as bad:
        raise ValueError(str(bad)) from None


# An instant the API takes in: with its zone, and between 1900 and 2200 (domain.timeutil.within_range).
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors and basics ---------------------------------------------------------------------------

class ErrorBody(Out):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, refused, invalid_input.")
    message: str
    rules: list[str] = Field(default_factory=list, description="Rule ids of a refused decision (R7.2, T5 …).")
    reasons: list[str] = Field(default_factory=list, description="Why, one sentence per failing check.")


class ErrorResponse(Out):
    error: ErrorBody


class Health(Out):
    status: str = "ok"
    api: str = Field(description="The API version.")


# --- officials -----------------------------------------------------------------------------------

class OfficialOut(Out):
    id: str
    name: str
    party: str
    clearance: str
    granted: AwareDatetime
    expires: AwareDatetime | None
    need_to_know: list[str]
    roles: list[Role]
    status: OfficialStatus
    updated_at: AwareDatetime


class WhoAmI(Out):
    id: str
    name: str
    party: str
    clearance: str
    expires: AwareDatetime | None
    need_to_know: list[str]
    roles: list[Role]
    via: str


class OfficialChangeOut(Out):
    at: AwareDatetime
    by: str
    action: str
    reason: str


class OfficialDetail(OfficialOut):
    changes: list[OfficialChangeOut]


class Reason(In):
    reason: str = Field(min_length=1, description="Why: recorded with the change and in the audit trail.")


class AppointIn(Reason):
    name: str = Field(min_length=1)
    clearance: str = Field(description="A clearance of this node's party, e.g. KOR:II.")
    granted: Instant | None = Field(None, description="Default: now.")
    expires: Instant | None = Field(None, description="Default: no expiry.")
    need_to_know: list[str] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=lambda: [Role.READER], min_length=1)


class UpdateIn(Reason):
    """Only the fields given change; `"expires": null` means "no expiry", leaving it out keeps it."""

    name: str | None = None
    clearance: str | None = None
    granted: Instant | None = None
    expires: Instant | None = None
    need_to_know: list[str] | None = None
    roles: list[Role] | None = None


class TokenOut(Out):
    official_id: str
    token: str = Field(description="Shown once; only its SHA-256 is kept.")


# --- agreements ----------------------------------------------------------------------------------

class RelayOut(Out):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    via: str
    consent_by: str


class EquivalenceRowOut(BaseModel):
    """One tier: `tier` plus, for each party, its marking codes at that tier."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, list[str]] = Field(init=False)

    tier: str


class LifeOut(Out):
    signed: date | None
    signed_by: list[str]
    notifications: dict[str, date]
    term_years: int
    auto_renew: bool
    notice_days: int
    notice_reference: str


class NoticeOut(Out):
    id: str
    by: str
    kind: str
    given: date | None
    suspended: date | None
    resumed: date | None
    withdrawn: date | None
    note: str


class NoticeStatusOut(Out):
    id: str
    by: str
    kind: str
    state: str
    given: date | None
    takes_effect_on: date | None


class StatusOut(Out):
    agreement: str
    on: date
    state: str
    condition: str = Field(description="not_yet_in_force, in_force, in_force_notice_pending, "
                                       "in_force_notice_suspended or terminated")
    in_force: bool
    entered_into_force: date | None
    terminates_on: date | None
    term_ends: date | None
    notice_deadline: date | None
    obligations_survive: bool
    notices: list[NoticeStatusOut]


class AgreementOut(Out):
    id: str
    version: int
    title: str
    parties: list[str]
    binding: bool
    rides_on: list[str]
    highest_tier: str
    scope_topics: list[str] | None
    scope: str
    direct_paths: list[list[str]]
    relays: list[RelayOut]
    equivalence: list[EquivalenceRowOut]
    life: LifeOut
    notices: list[NoticeOut]


class AgreementWithStatus(AgreementOut):
    status: StatusOut


# --- the policy's what-if ------------------------------------------------------------------------

class PolicyRequest(In):
    """The JSON `gsomia decide` reads; see gsomia.domain.parsing.request_from_dict."""

    action: str = Field(description="originate, release, receive, read, copy, translate, disclose, relay, "
                                    "reclassify or destroy")
    at: str = Field(description="ISO 8601 time with a zone")
    subject: dict[str, Any] = Field(description="The official: party, clearance, need_to_know, roles, …")
    item: dict[str, Any] = Field(description="The item's label: originator, classification, releasable_to, …")
    recipient: str | None = None
    via: str | None = None
    consents: list[dict[str, Any]] | None = None
    agreement: str | None = None
    item_id: str | None = None
    purpose: str | None = None
    classification: str | None = None


class DecisionOut(Out):
    allowed: bool
    rules: list[str]
    reasons: list[str]
    agreement: str | None


# --- items ---------------------------------------------------------------------------------------

class ItemIn(In):
    """A new item of this node's party: its label fields and its content (exactly one of the two forms)."""

    classification: str = Field(description="A marking of this node's party, e.g. KOR:II.")
    releasable_to: list[str] = Field(default_factory=list, description="Parties, e.g. [\"KOR\", \"USA\"].")
    topics: list[str] = Field(default_factory=list)
    purpose: str = Field(description="The purpose it is provided for (R6.b).")
    rights_note: str = ""
    location: str = "registry"
    content_text: str | None = Field(None, max_length=MAX_CONTENT, description="The content as UTF-8 text …")
    content_base64: str | None = Field(None, max_length=MAX_CONTENT * 4 // 3 + 4, description="… or as base64.")


class ItemOut(Out):
    id: str
    origin: str
    originator: str
    classification: str
    national_marking: str | None
    releasable_to: list[str]
    topics: list[str]
    purpose: str
    state: str
    custodian: str
    location: str
    received_from: str | None
    origin_ref: str | None
    derived_from: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class LabelView(Out):
    banner: str = Field(description="US-style banner, e.g. SECRET//REL TO USA, KOR.")
    dual_marking: str = Field(description="Both markings, as a recipient must show them (R4.4).")
    stanag4774: dict[str, Any] = Field(description="The STANAG 4774 confidentiality label structure.")
    stanag4774_xml: str


class ItemDetail(ItemOut):
    label: LabelView


class ContentOut(Out):
    item_id: str
    content_base64: str
    content_text: str | None = Field(description="The content, when it is UTF-8 text.")


class CopyIn(Reason):
    translate: bool = False


class DestroyIn(Reason):
    method: str = Field(min_length=1, description="A method that prevents reconstruction (Art. 13).")


class DestroyOut(Out):
    item_id: str
    certificate_base64: str = Field(description="The signed destruction certificate (R6.h, Art. 13).")


class ReclassifyIn(In):
    classification: str = Field(description="The new marking, of this node's party, e.g. KOR:I.")
    reason: str = Field("", description="Why; recorded in the audit trail.")


class ItemEventOut(Out):
    at: AwareDatetime
    kind: str
    by: str
    counterparty: str | None
    detail: str
    receipt: bool
    audit_seq: int | None


# --- audit ---------------------------------------------------------------------------------------

class AuditEntryOut(Out):
    seq: int
    at: str
    actor: str
    via: str
    action: str
    subject: str | None
    decision: str | None
    rules: list[str]
    reasons: list[str]
    prev_hash: str
    hash: str


class AuditPage(Out):
    entries: list[AuditEntryOut]
    next: int | None = Field(description="Pass as `since` for the next page; null at the end of the log.")


class ProblemOut(Out):
    seq: int
    what: str


class VerifyOut(Out):
    ok: bool
    entries: int
    first_seq: int | None
    last_seq: int | None
    head_hash: str | None
    checkpoints: int
    signatures_checked: bool
    problem: ProblemOut | None


class CheckpointOut(Out):
    count: int
    head_hash: str
    at: str
    key_id: str
    signature_base64: str
