"""The HTTP edge's shapes: pydantic here only; the services take and return dataclasses.

Every model forbids unknown request fields, so a misspelt field is a 422, never silently ignored.
Times are ISO 8601 with a zone (`AwareDatetime`): a naive time is ambiguous and refused.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from gsomia.api.vocabulary import OwnMarking, Party
from gsomia.domain.errors import DomainError
from gsomia.domain.officials import OfficialStatus, Role
from gsomia.domain.timeutil import within_range
from gsomia.edge.limits import MAX_ITEM_CONTENT

BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"  # RFC 4648 §4, padded
MAX_CONTENT = MAX_ITEM_CONTENT  # bytes of content in one request; larger items want a streaming upload


def _in_range(at: datetime) -> datetime:
    try:
        return within_range(at)
    except DomainError as bad:
        raise ValueError(str(bad)) from None


# An instant the API takes in: with its zone, and between 1900 and 2200 (domain.timeutil.within_range).
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]


def _ten_characters(value: object) -> object:
    if isinstance(value, str) and len(value) != len("2019-11-23"):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


def _day_in_range(day: date) -> date:
    _in_range(datetime.combine(day, time.min, tzinfo=timezone.utc))
    return day


# A day the API takes in, as YYYY-MM-DD only (never a time cut to its date), within the same range.
Day = Annotated[date, BeforeValidator(_ten_characters), AfterValidator(_day_in_range)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


Topic = Annotated[str, Field(min_length=1, max_length=100, description="A need-to-know topic, e.g. dprk-missile.")]


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


class ItemAccessOut(Out):
    item_id: str
    originator: str
    classification: str
    state: str
    allowed: bool
    rules: list[str]
    reasons: list[str]


class AccessReviewOut(Out):
    """The policy's read decision on each item held, for one official as the register holds them now (R6.e)."""

    official_id: str
    at: AwareDatetime
    complete: bool = Field(description="Every item held was looked at (else only the oldest `limit`).")
    readable: int
    items: list[ItemAccessOut]


class Reason(In):
    reason: str = Field(min_length=1, description="Why: recorded with the change and in the audit trail.")


class AppointIn(Reason):
    name: str = Field(min_length=1)
    clearance: OwnMarking = Field(description="A clearance of this node's party, e.g. KOR:II.")
    granted: Instant | None = Field(None, description="Default: now.")
    expires: Instant | None = Field(None, description="Default: no expiry.")
    need_to_know: list[Topic] = Field(default_factory=list, max_length=1000)
    roles: list[Role] = Field(default_factory=lambda: [Role.READER], min_length=1)


class UpdateIn(Reason):
    """Only the fields given change; `"expires": null` means "no expiry", leaving it out keeps it."""

    name: str | None = None
    clearance: OwnMarking | None = None
    granted: Instant | None = None
    expires: Instant | None = None
    need_to_know: list[Topic] | None = Field(None, max_length=1000)
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
    entry_into_force: date | None = Field(description="Explicit, for an arrangement effective on signature.")
    term_years: int
    renewal_years: int
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
    timezone: str = Field(description="The UTC offset its dates are local to, e.g. +09:00.")
    rides_on: list[str]
    highest_tier: str
    scope_topics: list[str] | None
    scope: str
    direct_paths: list[list[str]]
    relays: list[RelayOut]
    equivalence: list[EquivalenceRowOut]
    life: LifeOut
    notices: list[NoticeOut]
    rule_ids: dict[str, str] = Field(description="Rule ids this agreement's checks cite where not the defaults.")


class AgreementWithStatus(AgreementOut):
    status: StatusOut


# --- the life of agreements: events, answers, versions -------------------------------------------------

NoticeKind = Literal["termination", "suspension", "lifting", "withdrawal"]
EVENT_ID = r"^[A-Za-z0-9._-]{1,64}$"


class NoticeIn(In):
    """A written notice (R21.3) or an act on one, as the party gave it."""

    by: Party = Field(description="The party that gave it, e.g. KOR.")
    kind: NoticeKind
    given: date = Field(description="The day it was given in writing (delivered), in the agreement's time zone.")
    decided: date | None = Field(None, description="The day the party decided it, where that differs.")
    reference: str = Field(min_length=1, max_length=2000, description="The document: a note's number, a date.")
    notice: str | None = Field(None, pattern=EVENT_ID, description="For a suspension, lifting or withdrawal: the "
                                                                   "notice it concerns (default: the party's latest).")


EquivalenceRowIn = dict[str, str | list[Annotated[str, Field(min_length=1, max_length=100)]]]


class AmendmentIn(In):
    """New terms by mutual written consent (R21.2), in force since `given`."""

    given: date = Field(description="The day the amendment entered into force.")
    decided: date | None = None
    reference: str = Field(min_length=1, max_length=2000)
    add_rows: list[EquivalenceRowIn] = Field(default_factory=list, max_length=16, description=(
        "Rows added to the equivalence table: {\"tier\": \"SECRET\", \"KOR\": [\"II\"], \"JPN\": [\"GOKUHI\"]}."))
    highest_tier: Literal["CONFIDENTIAL", "SECRET", "TOP_SECRET"] | None = None


class RejectIn(In):
    reason: str = Field(min_length=1, max_length=2000, description="Why: it goes back to the recording node.")


class EventAnswerOut(Out):
    party: str
    confirmed: bool
    reason: str
    at: AwareDatetime


class AgreementEventOut(Out):
    id: str
    agreement: str
    kind: str
    by: str
    given: date
    decided: date | None
    reference: str
    notice: str | None
    amendment: dict[str, Any] | None
    origin: str = Field(description="The party whose node recorded it.")
    recorded_by: str
    recorded_at: AwareDatetime
    digest: str
    state: str = Field(description="recorded (ours), proposed (a partner's, awaiting our security officer), "
                                   "confirmed or rejected")
    applied: bool = Field(description="Whether this node decides under it.")
    decided_by: str | None
    decided_at: AwareDatetime | None
    reason: str | None
    answers: list[EventAnswerOut] = Field(description="The other parties' signed answers.")


class EventRefOut(Out):
    id: str
    digest: str


class VersionOut(Out):
    agreement: str
    digest: str
    baseline: str = Field(description="The digest of the shipped data alone.")
    events: list[EventRefOut]


class PartnerVersionOut(Out):
    party: str
    digest: str | None = Field(description="The version it last told us it holds (null: not told yet).")
    same: bool
    baseline_differs: bool
    only_ours: list[str]
    only_theirs: list[str]
    content_differs: list[str]
    states_here: dict[str, str] = Field(description="The state here of each event only it applies.")
    told_at: AwareDatetime | None


class VersionsOut(Out):
    ours: VersionOut
    partners: list[PartnerVersionOut]


# --- items ---------------------------------------------------------------------------------------

class ItemIn(In):
    """A new item of this node's party: its label fields and its content (exactly one of the two forms)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["content_text"], "properties": {"content_text": {"type": "string"}}},
        {"required": ["content_base64"], "properties": {"content_base64": {"type": "string"}}}]})

    classification: OwnMarking = Field(description="A marking of this node's party, e.g. KOR:II.")
    releasable_to: list[Party] = Field(default_factory=list, description="Parties, e.g. [\"KOR\", \"USA\"].")
    topics: list[Topic] = Field(default_factory=list, max_length=1000)
    purpose: str = Field(min_length=1, description="The purpose it is provided for (R6.b).")
    rights_note: str = ""
    location: str = "registry"
    content_text: str | None = Field(None, max_length=MAX_CONTENT, description="The content as UTF-8 text …")
    content_base64: str | None = Field(None, max_length=MAX_CONTENT * 4 // 3 + 4, pattern=BASE64,
                                       description="… or as base64.")


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
    classification: OwnMarking = Field(description="The new marking, of this node's party, e.g. KOR:I.")
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
