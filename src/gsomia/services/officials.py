"""The register of cleared officials (R6.e, R7) and their API tokens.

Every change is one transaction holding the new record, a change row (who, why, the result) and an
audit entry. Tokens: 256 random bits shown once; only their SHA-256 is stored.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from gsomia.domain.errors import DomainError
from gsomia.domain.officials import Official, OfficialStatus, Role
from gsomia.domain.schemes import Classification
from gsomia.domain.timeutil import format_instant
from gsomia.services import access
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from gsomia.services.throttle import FailedAuthentications, TooManyFailures
from gsomia.services.token_cache import cache_of
from gsomia.storage.records import OfficialChange, OfficialRecord, TokenRecord
from gsomia.storage.unit_of_work import UnitOfWork

RULES = ("R6.e",)
TOKEN_PREFIX = "gsomia_"
# The actor recorded for a failed authentication, which has no official behind it.
ANONYMOUS = Official(party="", clearance=Classification("", ""), clearance_expires=None,
                     need_to_know=frozenset(), roles=frozenset(), id="anonymous")


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP  # "leave this field as it is" in update(), where None means "no expiry"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    official_id: str
    token: str  # shown once; never stored


def appoint(node: Node, actor: Actor, *, name: str, clearance: str, granted: datetime,
            expires: datetime | None, need_to_know: Iterable[str], roles: Iterable[str | Role],
            reason: str) -> OfficialRecord:
    """Add an official to the register. Bad input raises InvalidInput before anything is written."""
    now = node.clock()
    official = _validated(node, Official(
        party=node.party, clearance=_clearance(node, clearance), clearance_expires=expires,
        need_to_know=_topics(need_to_know), roles=_roles(roles), id="OFF-" + secrets.token_hex(6),
        name=name.strip()), granted, now)
    _reason(reason)
    access.require(node, actor, "official.appoint", official.id, Role.SECURITY_OFFICER)
    record = OfficialRecord(official, granted, now, now)
    with node.store.unit_of_work() as uow:
        uow.officials.add(record)
        _record_change(uow, node, actor, record, "appoint", reason)
    return record


def update(node: Node, actor: Actor, official_id: str, *, reason: str, name: str | None = None,
           clearance: str | None = None, granted: datetime | None = None,
           expires: datetime | None | _Keep = KEEP, need_to_know: Iterable[str] | None = None,
           roles: Iterable[str | Role] | None = None) -> OfficialRecord:
    """Change only the fields given; `expires=None` means "no expiry", KEEP leaves it."""
    _reason(reason)
    new_clearance = None if clearance is None else _clearance(node, clearance)
    new_topics = None if need_to_know is None else _topics(need_to_know)
    new_roles = None if roles is None else _roles(roles)

    def change(current: OfficialRecord, now: datetime) -> OfficialRecord:
        if current.official.status is OfficialStatus.REVOKED:
            raise Conflict(f"official {official_id} is revoked; appoint them again instead")
        o = current.official
        changed = replace(
            o, name=o.name if name is None else name.strip(), clearance=new_clearance or o.clearance,
            clearance_expires=o.clearance_expires if isinstance(expires, _Keep) else expires,
            need_to_know=o.need_to_know if new_topics is None else new_topics,
            roles=o.roles if new_roles is None else new_roles)
        new_granted = current.clearance_granted if granted is None else granted
        return OfficialRecord(_validated(node, changed, new_granted, now), new_granted, current.created_at, now)

    return _modify(node, actor, official_id, "update", reason, change)


def suspend(node: Node, actor: Actor, official_id: str, *, reason: str) -> OfficialRecord:
    return _set_status(node, actor, official_id, OfficialStatus.SUSPENDED, reason,
                       allowed_from=(OfficialStatus.ACTIVE,))


def reinstate(node: Node, actor: Actor, official_id: str, *, reason: str) -> OfficialRecord:
    return _set_status(node, actor, official_id, OfficialStatus.ACTIVE, reason,
                       allowed_from=(OfficialStatus.SUSPENDED,))


def revoke(node: Node, actor: Actor, official_id: str, *, reason: str) -> OfficialRecord:
    return _set_status(node, actor, official_id, OfficialStatus.REVOKED, reason,
                       allowed_from=(OfficialStatus.ACTIVE, OfficialStatus.SUSPENDED))


def get(node: Node, actor: Actor, official_id: str, *, action: str = "official.show") -> OfficialRecord:
    access.require(node, actor, action, official_id, Role.SECURITY_OFFICER)
    with node.store.unit_of_work(readonly=True) as uow:
        record = uow.officials.get(official_id)
    if record is None:
        raise NotFound(f"unknown official {official_id!r}")
    return record


def list_officials(node: Node, actor: Actor, status: OfficialStatus | None = None) -> list[OfficialRecord]:
    access.require(node, actor, "official.list", None, Role.SECURITY_OFFICER)
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.officials.find(status)


def history(node: Node, actor: Actor, official_id: str) -> list[OfficialChange]:
    get(node, actor, official_id, action="official.history")
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.officials.changes(official_id)


def issue_token(node: Node, actor: Actor, official_id: str, *, reason: str) -> IssuedToken:
    """A new personal API token for an active official; earlier tokens stay valid until revoked."""
    _reason(reason)
    record = get(node, actor, official_id, action="official.token")
    if record.official.status is not OfficialStatus.ACTIVE:
        raise Conflict(f"official {official_id} is {record.official.status.value}: no token issued")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with node.store.unit_of_work() as uow:
        uow.officials.add_token(TokenRecord(_digest(token), official_id, node.clock(), None))
        append(uow, node.clock(), [draft(actor, "official.token", official_id, rules=RULES, reasons=(reason,))])
    return IssuedToken(official_id, token)


def authenticate(node: Node, token: str, *, via: str = "api") -> Official:
    """The active official a token belongs to, or AuthenticationFailed (audited) for any failure."""
    digest = _digest(token)
    now = node.clock()
    with node.store.unit_of_work(readonly=True) as uow:
        found = uow.officials.find_token(digest)
        record = uow.officials.get(found.official_id) if found else None
    if (found is not None and record is not None and hmac.compare_digest(found.token_hash, digest)
            and found.revoked_at is None and record.official.status is OfficialStatus.ACTIVE
            and record.official.clearance_valid_at(now)):
        cache_of(node.store).put(digest, record.official)
        return record.official
    node.metrics.authentication_failures.labels("bad-token").inc()
    with node.store.unit_of_work() as uow:
        append(uow, now, [draft(Actor(ANONYMOUS, via), "authenticate", found.official_id if found else None,
                                rules=("R7.2",), reasons=("unknown, revoked or inactive token",))])
    raise AuthenticationFailed()


def authenticate_from(node: Node, token: str, address: str, throttle: FailedAuthentications, *,
                      via: str = "api") -> Official:
    """`authenticate`, for a caller at `address`: a token that worked from there a moment ago is taken
    from the cache; any other is looked up only with a slot of the address's budget of failures
    (services/throttle.py), else TooManyFailures, whose refusals are audited in aggregate."""
    official = recently_authenticated(node, token)
    if official is not None:
        return official
    digest = _digest(token)
    try:
        throttle.admit(address, digest)
    except TooManyFailures:
        node.metrics.authentication_failures.labels("throttled").inc()
        refused = throttle.refusals_to_audit(address)
        if refused is not None:
            what = "turned away" if refused.first else "still turned away"
            with node.store.unit_of_work() as uow:
                append(uow, node.clock(), [draft(Actor(ANONYMOUS, via), "authenticate.throttled", None,
                                                rules=("R7.2",), reasons=(
                    f"{address} {what}: {refused.count} attempt(s) refused after {throttle.max_failures} failed"
                    f" authentications within {throttle.window_s} s",))])
        raise
    official = authenticate(node, token, via=via)
    throttle.succeeded(address, digest)
    return official


def recently_authenticated(node: Node, token: str) -> Official | None:
    """The official `token` was authenticated as within the last moment (token_cache.py), clearance
    still valid; None: ask `authenticate`. Does no I/O."""
    official = cache_of(node.store).get(_digest(token))
    return official if official is not None and official.clearance_valid_at(node.clock()) else None


def check_bootstrap(node: Node, *, name: str, clearance: str | None, expires: datetime | None) -> Official:
    """The first security officer as bootstrap() would create them; raises InvalidInput, writes nothing."""
    now = node.clock()
    level = clearance or str(Classification(node.party, _highest_level(node)))
    return _validated(node, Official(
        party=node.party, clearance=_clearance(node, level), clearance_expires=expires, need_to_know=frozenset(),
        roles=frozenset({Role.SECURITY_OFFICER}), id="OFF-" + secrets.token_hex(6), name=name.strip()), now, now)


def bootstrap(node: Node, *, name: str, clearance: str | None, expires: datetime | None,
              via: str = "cli-local") -> tuple[OfficialRecord, IssuedToken]:
    """The node's first official, a security officer, with a token; refused once anyone exists."""
    official = check_bootstrap(node, name=name, clearance=clearance, expires=expires)
    now = node.clock()
    record = OfficialRecord(official, now, now, now)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with node.store.unit_of_work() as uow:
        if uow.officials.count() > 0:
            raise Conflict("the register already has officials; bootstrap is only for an empty node")
        uow.officials.add(record)
        uow.officials.add_token(TokenRecord(_digest(token), official.id, now, None))
        _record_change(uow, node, Actor(official, via), record, "bootstrap", "first security officer of the node")
    return record, IssuedToken(official.id, token)


def local_admin(node: Node, official_id: str) -> Official:
    """The configured local administrator, if still active (see gsomia.cli.node for why this is safe)."""
    with node.store.unit_of_work(readonly=True) as uow:
        record = uow.officials.get(official_id)
    if record is None or record.official.status is not OfficialStatus.ACTIVE:
        raise AuthenticationFailed()
    return record.official


# --- helpers ---------------------------------------------------------------------------------------

def _set_status(node: Node, actor: Actor, official_id: str, status: OfficialStatus, reason: str,
                allowed_from: tuple[OfficialStatus, ...]) -> OfficialRecord:
    _reason(reason)

    def change(current: OfficialRecord, now: datetime) -> OfficialRecord:
        if current.official.status not in allowed_from:
            raise Conflict(f"official {official_id} is {current.official.status.value}")
        return replace(current, official=replace(current.official, status=status), updated_at=now)

    return _modify(node, actor, official_id, _verb(status), reason, change)


def _keeps_register(record: OfficialRecord) -> bool:
    o = record.official
    return o.status is OfficialStatus.ACTIVE and Role.SECURITY_OFFICER in o.roles


def _verb(status: OfficialStatus) -> str:
    return {OfficialStatus.ACTIVE: "reinstate", OfficialStatus.SUSPENDED: "suspend",
            OfficialStatus.REVOKED: "revoke"}[status]


def _modify(node: Node, actor: Actor, official_id: str, action: str, reason: str,
            change: Callable[[OfficialRecord, datetime], OfficialRecord]) -> OfficialRecord:
    """Read, change and write one record in one transaction (row locked), with its change row and audit."""
    access.require(node, actor, f"official.{action}", official_id, Role.SECURITY_OFFICER)
    with node.store.unit_of_work() as uow:
        current = uow.officials.get(official_id, for_update=True)
        if current is None:
            raise NotFound(f"unknown official {official_id!r}")
        record = change(current, node.clock())  # may raise: the transaction then writes nothing
        if _keeps_register(current) and not _keeps_register(record) and not any(
                _keeps_register(r) for r in uow.officials.find(OfficialStatus.ACTIVE) if r.official.id != official_id):
            raise Conflict(f"{official_id} is the last active security officer: appoint another one first")
        uow.officials.replace(record)
        if record.official.status is not OfficialStatus.ACTIVE:
            uow.officials.revoke_tokens(record.official.id, record.updated_at)
        _record_change(uow, node, actor, record, action, reason)
    cache_of(node.store).clear()  # again after the commit: a check made meanwhile saw the old record
    return record


def _record_change(uow: UnitOfWork, node: Node, actor: Actor, record: OfficialRecord, action: str,
                   reason: str) -> None:
    o = record.official
    snapshot = json.dumps({
        "name": o.name, "clearance": str(o.clearance), "granted": format_instant(record.clearance_granted),
        "expires": format_instant(o.clearance_expires) if o.clearance_expires else None,
        "need_to_know": sorted(o.need_to_know), "roles": sorted(r.value for r in o.roles), "status": o.status.value,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    uow.officials.add_change(OfficialChange(o.id, record.updated_at, actor.official.id, action, reason, snapshot))
    cache_of(node.store).clear()  # the register changes: nobody rides on an earlier check
    append(uow, record.updated_at, [draft(actor, f"official.{action}", o.id, rules=RULES,
                                          reasons=(reason, snapshot))])


def _validated(node: Node, official: Official, granted: datetime, now: datetime) -> Official:
    if not official.name:
        raise InvalidInput("the official's name is empty")
    if granted > now:  # a Conflict, not bad input: the same request is good later (the clock is the state)
        raise Conflict(f"clearance granted {format_instant(granted)} is in the future")
    if official.clearance_expires is not None:
        if official.clearance_expires <= now:
            raise Conflict(f"clearance expired {format_instant(official.clearance_expires)}; "
                               "renew it before appointing")
        if official.clearance_expires <= granted:
            raise InvalidInput("clearance expires before it was granted")
    if not official.roles:
        raise InvalidInput("an official needs at least one role")
    return official


def _clearance(node: Node, text: str) -> Classification:
    try:
        parsed = node.schemes.parse(text)
    except DomainError as bad:
        raise InvalidInput(str(bad)) from None
    if parsed.party != node.party:
        raise InvalidInput(f"clearance {parsed} is not a {node.party} classification: "
                           "a node registers national clearances of its own party")
    return parsed


def _highest_level(node: Node) -> str:
    return max(node.schemes.scheme(node.party).levels, key=lambda lv: lv.tier).code


def _topics(topics: Iterable[str]) -> frozenset[str]:
    cleaned = frozenset(t.strip() for t in topics)
    if "" in cleaned:
        raise InvalidInput("an empty need-to-know topic")
    return cleaned


def _roles(roles: Iterable[str | Role]) -> frozenset[Role]:
    try:
        return frozenset(Role(r) for r in roles)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role in {list(roles)!r} (known: {known})") from None


def _reason(reason: str) -> None:
    if not reason.strip():
        raise InvalidInput("give a reason: every change to the register records why")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


__all__ = [
    "KEEP", "IssuedToken", "OfficialChange", "OfficialRecord", "appoint", "authenticate", "authenticate_from",
    "bootstrap",
    "check_bootstrap", "get", "history", "issue_token", "list_officials", "local_admin", "reinstate", "revoke",
    "suspend", "update",
]
