"""TAXII 2.1 collections as an official sees them, and adding objects to one (the use cases behind
gsomia/api/taxii; the listings are in `taxii_listing`).

A collection is an agreement in force to which this node's party belongs (its id derived from the
agreement's, stable across restarts). An item is in an agreement's collection when its originator is a
party to it and, for an item of ours, it is releasable to another of its parties; the agreement's
scope must cover its topics. Within a collection an official gets only what the policy lets them read.

    can_read   an active official in a human role, cleared (not expired), with need-to-know for at least
               one topic in the agreement's scope (any topic if the scope is open)
    can_write  the same official, who may originate items of this party

Refusing a collection is audited (R7.2) like any refusal. Adding objects originates each report as an
item through `handling.originate`: the same policy decision and the same audit entry as the API's
POST /v1/items, one item per report, all in one transaction and at one instant.

What a POST did (its status resource, TAXII 2.1 §4.3.1) is stored in that same transaction
(storage/taxii.py), so any worker process of the node answers GET status/{id}/, before and after a
restart, until it is purged (settings taxii_status_days and taxii_status_max). Only the official who
posted reads it: the spec names no reader, and default deny gives it to no one else; anyone else, a
security officer included, is answered 404 as for a status that does not exist (the officer has each
decision in the audit trail).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gsomia.domain.agreements import Agreement
from gsomia.domain.errors import DomainError
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official, OfficialStatus
from gsomia.domain.parsing import label_from_dict
from gsomia.domain.policy import HUMANS
from gsomia.services import handling
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from gsomia.services.stix import NAMESPACE, drafts_from_envelope
from gsomia.storage.taxii import StatusDetail, StatusRecord

VIA = "taxii"
RULES = ("R7.2",)
MAX_REPORTS = 300  # reports per POSTed envelope: one transaction, one instant
LOCATION = "taxii"


MISSILE_WARNING = "missile-warning"  # the alias of the missile-warning feed's collection


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    agreement: Agreement | None  # None: the missile-warning feed's collection
    can_read: bool
    can_write: bool
    why_not: str = ""

    @property
    def title(self) -> str:
        return self.agreement.title if self.agreement else "Missile warning: the feed's tracks"

    @property
    def alias(self) -> str:
        return self.agreement.id if self.agreement else MISSILE_WARNING

    @property
    def description(self) -> str:
        if self.agreement is None:
            return ("Each track the feed holds that this official may read, as observed-data with its"
                    " trajectory (read-only: tracks come in through the feed)")
        return f"Items held under {self.agreement.id} ({self.agreement.scope_note})"


@dataclass(frozen=True, slots=True)
class Gate:
    """A collection's refusal, as the audit keeps decisions."""

    allowed: bool
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    agreement: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """One object of a POSTed envelope: its id and version, and the item made of it or why not."""

    stix_id: str
    version: str
    item_id: str | None
    message: str


@dataclass(frozen=True, slots=True)
class AddStatus:
    """What a POST of objects did (TAXII 2.1 §4.3.1): all of it at once, so complete on answer."""

    id: str
    requested_at: datetime
    successes: tuple[Outcome, ...]
    failures: tuple[Outcome, ...]
    pendings: tuple[Outcome, ...] = ()

    @property
    def status(self) -> str:
        return "pending" if self.pendings else "complete"


def collection_id(agreement_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"collection:{agreement_id}"))


def collections(node: Node, actor: Actor, *, feed: bool = False) -> list[Collection]:
    """Every collection this official may read or write, in the agreements' order; with `feed` (the node
    serves the missile-warning feed) that feed's collection last."""
    return [c for c in _all(node, actor, feed=feed) if c.can_read or c.can_write]


def collection(node: Node, actor: Actor, wanted: str, *, feed: bool = False) -> Collection:
    for found in _all(node, actor, feed=feed):
        if found.id == wanted:
            return found
    raise NotFound(f"no collection {wanted!r} on this API root")


def readable(node: Node, actor: Actor, wanted: str, *, write: bool = False, feed: bool = False) -> Collection:
    """The collection, if this official may read it (write: add to it); a refusal is audited."""
    found = collection(node, actor, wanted, feed=feed)
    if found.can_write if write else found.can_read:
        return found
    reasons = (f"{actor.official.id} may not {'add to' if write else 'read'} the collection of"
               f" {found.alias}: {found.why_not}",)
    with node.store.unit_of_work() as uow:
        gate = Gate(False, RULES, reasons, found.alias)
        append(uow, node.clock(), [draft(actor, "taxii.collection", found.alias, gate)])
    raise PermissionDenied(reasons[0], rules=RULES, reasons=reasons)


def member(agreement: Agreement, label: Label, here: str) -> bool:
    """Is an item with this label, held by `here`, in the agreement's collection?"""
    parties = agreement.parties
    if label.originator not in parties or here not in parties or not agreement.covers_topics(label.topics):
        return False
    return label.originator != here or bool(label.releasable_to & (parties - {here}))


def add_objects(node: Node, actor: Actor, wanted: str, objects: list[Any], status_id: str) -> AddStatus:
    """Originate an item of each report of the envelope (see the module docstring)."""
    found = readable(node, actor, wanted, write=True)
    if found.agreement is None:
        raise InvalidInput("tracks come in through the feed, not through TAXII")  # can_write is false anyway
    drafts, refused = drafts_from_envelope(objects)
    if len(drafts) > MAX_REPORTS:
        raise InvalidInput(f"an envelope may add at most {MAX_REPORTS} reports at once")
    at = node.clock()
    successes: list[Outcome] = []
    failures = [Outcome(i, v, None, why) for i, v, why in refused]
    for draft_ in drafts:
        try:
            label = label_from_dict({"originator": node.party, **draft_.label_fields}, node.schemes, at)
            if not member(found.agreement, label, node.party):
                raise InvalidInput(f"the item would not be in the collection of {found.alias}: its releasability"
                                   " or topics fall outside that agreement")
            item = handling.originate(node, actor, label, draft_.content, location=LOCATION, at=at)
        except (InvalidInput, DomainError, PermissionDenied) as why:
            failures.append(Outcome(draft_.stix_id, draft_.version, None, str(why)))
            continue
        successes.append(Outcome(draft_.stix_id, draft_.version, item.id, f"originated as item {item.id}"))
    done = AddStatus(status_id, at, tuple(successes), tuple(failures))
    settings = node.settings
    with node.store.unit_of_work() as uow:
        uow.taxii.add_status(StatusRecord(done.id, actor.official.id, found.id, at, done.status,
                                          _details(done.successes), _details(done.failures)))
        uow.taxii.purge_statuses(before=at - timedelta(days=settings.taxii_status_days),
                                 keep=settings.taxii_status_max)
    return done


def status_of(node: Node, actor: Actor, status_id: str) -> AddStatus:
    """The status of a POST of objects, to the official who posted it (see the module docstring)."""
    with node.store.unit_of_work(readonly=True) as uow:
        found = uow.taxii.status(status_id[:64])
    if found is None or found.official_id != actor.official.id:
        raise NotFound(f"no status {status_id[:64]!r} for this official")

    def outcomes(details: tuple[StatusDetail, ...]) -> tuple[Outcome, ...]:
        return tuple(Outcome(d.id, d.version, None, d.message) for d in details)

    return AddStatus(found.id, found.request_timestamp, outcomes(found.successes), outcomes(found.failures),
                     outcomes(found.pendings))


def _details(outcomes: tuple[Outcome, ...]) -> tuple[StatusDetail, ...]:
    return tuple(StatusDetail(o.stix_id, o.version, o.message) for o in outcomes)


def _all(node: Node, actor: Actor, *, feed: bool) -> list[Collection]:
    now, official, catalog = node.clock(), actor.official, node.catalog
    found = []
    for agreement in sorted(catalog.agreements, key=lambda a: a.id):
        if node.party not in agreement.parties or not catalog.status(agreement, now).in_force:
            continue
        why_not = _why_not(actor, now)
        if not why_not and agreement.scope_topics is not None and not (official.need_to_know & agreement.scope_topics):
            why_not = (f"no need-to-know for any topic in its scope ({', '.join(sorted(agreement.scope_topics))})")
        allowed = not why_not
        found.append(Collection(collection_id(agreement.id), agreement, allowed, allowed, why_not))
    if feed:  # each track's own read decision is the feed's reader gate's (services/taxii_tracks.py)
        why_not = _why_not(actor, now)
        found.append(Collection(collection_id(MISSILE_WARNING), None, not why_not, False, why_not))
    return found


def _why_not(actor: Actor, now: datetime) -> str:
    official = actor.official
    if official.status is not OfficialStatus.ACTIVE or official.roles.isdisjoint(HUMANS):
        return "only an active official in a reader's, releaser's or security officer's role reads here"
    if not official.clearance_valid_at(now):
        return "the official's clearance has expired"
    return ""


def refuse_user_name(node: Node, claimed: str, official: Official) -> None:
    """A token presented under another official's id (HTTP Basic): refused, and audited as a failed
    authentication of the token's holder."""
    reasons = (f"a token of {official.id} was presented as {claimed[:64]!r}",)
    with node.store.unit_of_work() as uow:
        append(uow, node.clock(), [draft(Actor(official, VIA), "authenticate", official.id, rules=RULES,
                                         reasons=reasons)])
    raise AuthenticationFailed()
