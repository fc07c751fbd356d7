"""The listings of a TAXII 2.1 collection: objects, manifest, one object, its versions (TAXII 2.1 §5.3-§5.8).

A collection's objects, in date_added order (see taxii_cursor): the shared objects (gsomia, the
extension-definition, the parties' identities), then for each item of the agreement, in the order of the
items' date_added (stored, storage/taxii.py: given when a listing first finds the item), its
marking-definition, artifact and report (services/stix.py). Items are read from the store in keyset
pages; each is put to the policy's `read` decision for this official, and only an allowed item's objects
are listed: its content is opened only for an objects listing, after the decision is in the audit log
(one entry per item listed, action taxii.objects or taxii.manifest). An item refused is simply not in
this official's view of the collection, as in the inventory (services/visibility.py).

A page ends at `limit` objects, at MAX_PAGE_BYTES of content, or after SCAN_BUDGET items looked at;
`more` and a `next` cursor then say where to go on. Objects have one version each (an item's latest),
so match[version] first, last and all select the same one.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gsomia.crypto import derived_secret
from gsomia.domain.agreements import Agreement
from gsomia.domain.labels import Label
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request
from gsomia.services import handling, taxii
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import InvalidInput
from gsomia.services.items import DESTROYED
from gsomia.services.stix import ITEM_OBJECTS, ItemView, item_objects, shared_objects, version_of
from gsomia.services.taxii_cursor import (
    BEFORE_ALL,
    ORIGIN,
    Cursor,
    Filters,
    Position,
    open_cursor,
    seal_cursor,
)
from gsomia.storage import Store
from gsomia.storage.records import ItemRecord

SCAN_BATCH = 200
STAMP_BATCH = 1000  # items given their date_added per statement (the newest, on the index of creation times)
FULL_BATCH = 100_000  # the same, when all items are looked at (one scan of the items each)
STAMP_WINDOW = timedelta(minutes=10)
FULL_LOOK_S = 60.0
_LOOKED: weakref.WeakKeyDictionary[Store, float] = weakref.WeakKeyDictionary()  # store → when all were looked at
_LOOKED_LOCK = threading.Lock()
SCAN_BUDGET = 5000  # items looked at for one page, at most
MAX_PAGE_BYTES = 32 * 1024 * 1024  # sealed content on one page: at least one item, then at most this
MAX_LIMIT = 1000
CURSOR_CONTEXT = b"gsomia taxii cursor v1"
_SPENT = Position(ORIGIN - timedelta(days=1))  # a marker, never a real position


@dataclass(frozen=True, slots=True)
class Listed:
    position: Position
    stix_object: dict[str, Any]

    @property
    def date_added(self) -> str:
        return self.position.render()

    @property
    def version(self) -> str:
        return version_of(self.stix_object, self.date_added)


@dataclass(frozen=True, slots=True)
class Page:
    objects: tuple[Listed, ...]
    more: bool
    next: str | None


@dataclass(frozen=True, slots=True)
class _Chosen:
    item: ItemRecord | None
    label: Label | None
    decision: Decision | None
    listed: list[Listed]


def listing(node: Node, actor: Actor, wanted: str, *, what: str, filters: Filters, after: Position | None,
            limit: int, next_token: str | None) -> Page:
    """One page of a collection's objects (what="objects") or manifest (what="manifest")."""
    filters, after = resume(node, actor, wanted, what, filters, after, next_token)
    found = taxii.readable(node, actor, wanted)
    if found.agreement is None:
        raise InvalidInput("the missile-warning collection is listed from the feed (services.taxii_tracks)")
    stamp_new(node)
    limit = max(1, min(limit, MAX_LIMIT))
    chosen, more, last = _choose(node, actor, found.agreement, filters, after or BEFORE_ALL, limit)
    decided = [c for c in chosen if c.item is not None and c.decision is not None]
    if decided:
        with node.store.unit_of_work() as uow:
            append(uow, node.clock(), [draft(actor, f"taxii.{what}", c.item.id, c.decision)
                                       for c in decided if c.item is not None])
    listed: list[Listed] = []
    for c in chosen:
        if what == "objects" and c.item is not None and c.label is not None:
            listed += _with_content(node, c)
        else:
            listed += c.listed
    return Page(tuple(listed), more, next_cursor(node, actor, wanted, what, filters, last) if more else None)


def resume(node: Node, actor: Actor, wanted: str, what: str, filters: Filters, after: Position | None,
           next_token: str | None) -> tuple[Filters, Position | None]:
    """The filters and position of a listing: the request's own, or those its `next` cursor carries."""
    if not next_token:
        return filters, after
    cursor = open_cursor(next_token, derived_secret(node.keys, CURSOR_CONTEXT))
    if (cursor.collection, cursor.official, cursor.what) != (wanted, actor.official.id, what):
        raise InvalidInput("next: this cursor belongs to another collection, official or listing")
    return cursor.filters, cursor.after


def next_cursor(node: Node, actor: Actor, wanted: str, what: str, filters: Filters, last: Position) -> str:
    key = derived_secret(node.keys, CURSOR_CONTEXT)
    return seal_cursor(Cursor(wanted, actor.official.id, filters, last, what), key)


def matches(stix_object: dict[str, Any], position: Position, filters: Filters) -> bool:
    """Does the object pass the match[...] filters (TAXII 2.1 §3.5)?"""
    return _matches(stix_object, position, filters)


def _choose(node: Node, actor: Actor, agreement: Agreement, filters: Filters, after: Position,
            limit: int) -> tuple[list[_Chosen], bool, Position]:
    chosen: list[_Chosen] = []
    count, size, last = 0, 0, after
    current: ItemRecord | None = None
    decision: Decision | None = None
    for position, item, stix_object, label in _entries(node, agreement, after):
        if position is _SPENT:  # the scan budget is spent: go on from `last` on the next page
            return chosen, True, last
        wanted = stix_object is not None and _matches(stix_object, position, filters)
        if wanted and item is not None and item is not current and label is not None:
            current = item
            decision = decide(Request(Action.READ, node.clock(), actor.official, label, item_id=item.id),
                              node.catalog)
        if wanted and item is not None and (decision is None or not decision.allowed):
            wanted = False  # not in this official's view of the collection
        if wanted and (count >= limit or (item is not None and count and size > MAX_PAGE_BYTES)):
            return chosen, True, last
        last = position
        if not wanted or stix_object is None:
            continue
        if item is None or label is None:
            chosen.append(_Chosen(None, None, None, [Listed(position, stix_object)]))
        else:
            if not chosen or chosen[-1].item is not item:
                chosen.append(_Chosen(item, label, decision, []))
                size += len(item.sealed_content)
            chosen[-1].listed.append(Listed(position, stix_object))
        count += 1
    return chosen, False, last


def _entries(node: Node, agreement: Agreement, after: Position) -> Iterator[
        tuple[Position, ItemRecord | None, dict[str, Any] | None, Label | None]]:
    """(position, item, object without content, label) after `after`, in order; an item outside the
    collection yields its positions with no object. _SPENT marks a spent budget."""
    for i, shared in enumerate(shared_objects(sorted(node.schemes.parties))):
        if Position(ORIGIN, i) > after:
            yield Position(ORIGIN, i), None, shared, None
    since, inclusive, scanned = max(after.at, ORIGIN + timedelta(microseconds=1)), True, 0
    while True:
        with node.store.unit_of_work(readonly=True) as uow:
            batch = uow.taxii.in_added_order(since, inclusive=inclusive, limit=SCAN_BATCH)
        for added, item in batch:
            positions = [Position(added, i) for i in range(ITEM_OBJECTS)]
            if positions[-1] <= after:
                continue
            scanned += 1
            if scanned > SCAN_BUDGET:
                yield _SPENT, None, None, None
                return
            label = Label.from_canonical(item.label_bytes, node.schemes)
            objects: list[dict[str, Any] | None] = [None] * ITEM_OBJECTS
            if item.state != DESTROYED and taxii.member(agreement, label, node.party):
                objects = list(item_objects(ItemView(item.id, label, item.created_at, item.updated_at), node.schemes))
            for position, stix_object in zip(positions, objects, strict=True):
                if position > after:
                    yield position, item, stix_object, label
        if len(batch) < SCAN_BATCH:
            return
        since, inclusive = batch[-1][0], False


def stamp_new(node: Node) -> None:
    """Give the items that have none yet their date_added (storage/taxii.py `stamp_new`), before a listing
    reads, so that what it lists has its date_added and whatever comes later gets a later one.

    Those created in the last STAMP_WINDOW are looked for on every listing (on the index of creation times:
    cheap however many items are held); all items, at most every FULL_LOOK_S seconds in each process (the
    first listing of a process included): an item whose transaction committed longer than STAMP_WINDOW after
    its creation instant is found then. Either way its date_added comes after every one already served."""
    now = node.clock()
    with _LOOKED_LOCK:
        full = time.monotonic() - _LOOKED.get(node.store, -FULL_LOOK_S) >= FULL_LOOK_S
    since = None if full else now - STAMP_WINDOW
    with node.store.unit_of_work(readonly=True) as uow:
        waiting = uow.taxii.has_unstamped(since)
    if waiting:
        limit = STAMP_BATCH if since is not None else FULL_BATCH
        with node.store.unit_of_work() as uow:
            while uow.taxii.stamp_new(node.clock(), limit, since) == limit:
                pass
    if full:
        with _LOOKED_LOCK:
            _LOOKED[node.store] = time.monotonic()


def _matches(stix_object: dict[str, Any], position: Position, filters: Filters) -> bool:
    if filters.ids and stix_object["id"] not in filters.ids:
        return False
    if filters.types and stix_object["type"] not in filters.types:
        return False
    if filters.spec_versions and stix_object.get("spec_version", "2.1") not in filters.spec_versions:
        return False
    named = {"first", "last", "all"}
    if filters.versions and not named & set(filters.versions):
        return version_of(stix_object, position.render()) in filters.versions
    return True


def _with_content(node: Node, chosen: _Chosen) -> list[Listed]:
    """The item's listed objects, the artifact now carrying the content (opened after the audit)."""
    assert chosen.item is not None and chosen.label is not None  # noqa: S101 - only called for items
    item = chosen.item
    if all(listed.stix_object["type"] != "artifact" for listed in chosen.listed):
        return chosen.listed
    full = item_objects(ItemView(item.id, chosen.label, item.created_at, item.updated_at,
                                 handling.content_of(node, item)), node.schemes)
    by_id = {o["id"]: o for o in full}
    return [Listed(listed.position, by_id[listed.stix_object["id"]]) for listed in chosen.listed]
