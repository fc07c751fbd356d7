"""Signed-in sessions of the web console: opened with a personal token, kept server-side, ended by sign-out,
by idleness, by age, or the moment their token or their official stops being valid.

    sign_in(node, token)      officials.authenticate (a failure is audited there), then a new session
                              (its secret returned once, for the browser's cookie) and an audit entry
    resume(node, secret)      the session and its official as the register holds them now, or why it ended
    sign_out(node, secret)    the session gone, audited

The store keeps only the SHA-256 of a session's secret, so that a copy of the database opens no session.
The session's CSRF token is derived from the secret (HMAC), so it needs no column and changes with it;
forms carry it and the console compares it in constant time (`csrf_matches`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gsomia.domain.officials import Official, OfficialStatus
from gsomia.services import officials
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.throttle import FailedAuthentications
from gsomia.storage.records import ConsoleSessionRecord
from gsomia.storage.unit_of_work import UnitOfWork

VIA = "console"
RULES = ("R7.2",)
_CSRF_CONTEXT = b"gsomia console csrf v1"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: who is signed in (as the register holds them now), the form token, and the messages
    waiting for this page (shown once)."""

    secret: str = field(repr=False)  # the cookie's value: never in a log line or a page
    official: Official
    csrf: str = field(repr=False)
    started_at: datetime
    flash: tuple[str, ...] = ()

    @property
    def actor(self) -> Actor:
        return Actor(self.official, VIA)


@dataclass(frozen=True, slots=True)
class Ended:
    """A session that is no more, and why (shown on the sign-in page)."""

    reason: str


def sign_in(node: Node, token: str, *, caller: str, throttle: FailedAuthentications) -> SignedIn:
    """A new session for the official whose personal token this is; AuthenticationFailed (audited) if none,
    TooManyFailures when `caller` has failed too often (throttled together with the API's callers)."""
    official = officials.authenticate_from(node, token, caller, throttle, via=VIA)
    secret = secrets.token_urlsafe(32)
    now = node.clock()
    with node.store.unit_of_work() as uow:
        _forget_stale(uow, node, now)
        uow.console_sessions.add(ConsoleSessionRecord(_digest(secret), official.id, _digest(token), now, now))
        append(uow, now, [draft(Actor(official, VIA), "console.sign-in", official.id, rules=RULES,
                                reasons=(f"signed in to the console from {caller}",))])
    return SignedIn(secret, official, csrf_token(secret), now)


def resume(node: Node, secret: str, *, touch: bool = True) -> SignedIn | Ended | None:
    """The session whose cookie this is, touched (its idle time starts again) unless `touch` is false (a
    check that is not the official's activity); Ended if it has just ended (audited, and gone); None if
    there is no such session."""
    now = node.clock()
    id_hash = _digest(secret)
    with node.store.unit_of_work() as uow:
        record = uow.console_sessions.get(id_hash)
        if record is None:
            return None
        official, why = _still_valid(uow, node, record, now)
        if official is None:
            uow.console_sessions.remove(id_hash)
            append(uow, now, [draft(Actor(_someone(record.official_id), VIA), "console.session-ended",
                                    record.official_id, rules=RULES, reasons=(why,))])
            return Ended(why)
        if touch:
            uow.console_sessions.touch(id_hash, now, clear_flash=bool(record.flash))
    return SignedIn(secret, official, csrf_token(secret), record.created_at, record.flash if touch else ())


def sign_out(node: Node, session: SignedIn) -> None:
    now = node.clock()
    with node.store.unit_of_work() as uow:
        if uow.console_sessions.remove(_digest(session.secret)):
            append(uow, now, [draft(session.actor, "console.sign-out", session.official.id, rules=RULES,
                                    reasons=("signed out of the console",))])


def flash(node: Node, session: SignedIn, message: str) -> None:
    """A message for the next page this session shows (after a form's redirect), once."""
    with node.store.unit_of_work() as uow:
        record = uow.console_sessions.get(_digest(session.secret))
        if record is not None:
            uow.console_sessions.add_flash(record.id_hash, record.flash + (message,))


def refuse_form(node: Node, session: SignedIn, action: str, reason: str) -> None:
    """A form refused by the console itself (a missing or wrong CSRF token): audited like any refusal."""
    with node.store.unit_of_work() as uow:
        append(uow, node.clock(), [draft(session.actor, action, None, rules=("R7.1",), reasons=(reason,))])


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_matches(session: SignedIn, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf.encode(), presented.encode())


# --- helpers ---------------------------------------------------------------------------------------

def _still_valid(uow: UnitOfWork, node: Node, record: ConsoleSessionRecord,
                 now: datetime) -> tuple[Official | None, str]:
    settings = node.settings
    if now - record.last_seen > timedelta(seconds=settings.console_idle_timeout_s):
        return None, f"no request for more than {settings.console_idle_timeout_s:g} s: signed out"
    if now - record.created_at > timedelta(seconds=settings.console_session_max_s):
        return None, f"signed in more than {settings.console_session_max_s:g} s ago: sign in again"
    token = uow.officials.find_token(record.token_hash)
    if token is None or token.revoked_at is not None:
        return None, "the token this session was opened with has been revoked"
    stored = uow.officials.get(record.official_id)
    if stored is None or stored.official.status is not OfficialStatus.ACTIVE:
        return None, f"official {record.official_id} is no longer active"
    if not stored.official.clearance_valid_at(now):
        return None, f"the clearance of {record.official_id} has expired"
    return stored.official, ""


def _forget_stale(uow: UnitOfWork, node: Node, now: datetime) -> None:
    """Sessions nobody will resume: idle or too old (their browsers would be sent to sign in anyway)."""
    settings = node.settings
    uow.console_sessions.remove_idle(now - timedelta(seconds=settings.console_idle_timeout_s))
    uow.console_sessions.remove_started_before(now - timedelta(seconds=settings.console_session_max_s))


def _someone(official_id: str) -> Official:
    """Who an ended session belonged to, for its audit entry (no register look-up needed for the id)."""
    return Official(party="", clearance=officials.ANONYMOUS.clearance, clearance_expires=None,
                    need_to_know=frozenset(), roles=frozenset(), id=official_id)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


__all__ = ["Ended", "SignedIn", "csrf_matches", "csrf_token", "flash", "refuse_form", "resume", "sign_in",
           "sign_out"]
