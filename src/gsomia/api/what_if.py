"""The policy's what-if at the HTTP edge (`POST /v1/decide`): the JSON `gsomia decide` reads, typed so that
the published schema says what the domain's parser (domain.parsing.request_from_dict) requires."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from gsomia.api.schemas import In, Instant, Out
from gsomia.api.vocabulary import AgreementId, Marking, Party, QualifiedMarking
from gsomia.domain.officials import OfficialStatus, Role
from gsomia.domain.requests import Action


class PolicySubject(In):
    """The official a what-if asks about (domain.parsing.official_from_dict reads it)."""

    party: Party
    clearance: QualifiedMarking
    need_to_know: list[str] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    status: OfficialStatus = OfficialStatus.ACTIVE
    clearance_expires: Instant | None = None
    id: str = ""
    name: str = ""


class PolicyItem(In):
    """The item's label a what-if asks about (domain.parsing.label_from_dict reads it)."""

    originator: Party
    classification: Marking
    national_marking: Marking | None = None
    policy: str | None = None
    releasable_to: list[Party] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    purpose: str = ""
    created_at: Instant | None = Field(None, description="Default: the request's `at`.")
    rights_note: str = ""
    provider: Party | None = None


class PolicyConsent(In):
    """A written consent the what-if may count (domain.parsing.consent_from_dict): for an item or topics."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "anyOf": [{"required": ["item"], "properties": {"item": {"type": "string"}}},
                  {"required": ["topics"], "properties": {"topics": {"type": "array"}}}]})

    by: Party
    to: Party
    item: str | None = None
    topics: list[str] | None = None
    until: Instant | None = None
    granted_at: Instant | None = None
    id: str = ""

    @model_validator(mode="after")
    def _names_what(self) -> PolicyConsent:
        if self.item is None and self.topics is None:
            raise ValueError("a consent must name an item or a list of topics")
        return self


class PolicyRequest(In):
    """The JSON `gsomia decide` reads; see gsomia.domain.parsing.request_from_dict."""

    action: Action
    at: Instant
    subject: PolicySubject
    item: PolicyItem
    recipient: Party | None = None
    via: Party | None = None
    consents: list[PolicyConsent] | None = None
    agreement: AgreementId | None = None
    item_id: str | None = None
    purpose: str | None = None
    classification: Marking | None = Field(None, description="The new marking of a reclassification.")


class DecisionOut(Out):
    allowed: bool
    rules: list[str]
    reasons: list[str]
    agreement: str | None
