"""The console's sessions (services.console_sessions) on SQLite and PostgreSQL: opened with a personal token,
kept server-side by the hash of their secret, ended by sign-out, idleness, age, a revoked token or an official
who is no longer active; every opening, ending and refused form audited."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from gsomia.services import console_sessions, officials
from gsomia.services.console_sessions import Ended, SignedIn
from gsomia.services.context import Actor, Node
from gsomia.services.errors import AuthenticationFailed
from gsomia.services.throttle import FailedAuthentications
from gsomia.storage.tables import console_sessions as table


def _reader(ctx: Node, officer: Actor) -> tuple[str, str]:
    record = officials.appoint(ctx, officer, name="Park Reader", clearance="KOR:II", granted=ctx.clock(), expires=None,
                               need_to_know=["dprk-missile"], roles=["reader"], reason="console tests")
    return record.official.id, officials.issue_token(ctx, officer, record.official.id, reason="console tests").token


def _actions(ctx: Node) -> list[tuple[str, str | None]]:
    with ctx.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT action, decision FROM audit_entries ORDER BY seq")).all()
    return [(r[0], r[1]) for r in rows]


def test_a_session_opens_with_a_token_and_keeps_only_the_hash_of_its_secret(ctx: Node, officer: Actor) -> None:
    official_id, token = _reader(ctx, officer)
    session = console_sessions.sign_in(ctx, token, caller="127.0.0.1", throttle=FailedAuthentications())
    assert session.official.id == official_id
    with ctx.store.engine.connect() as conn:
        stored = conn.execute(select(table)).one()
    assert stored.id_hash == hashlib.sha256(session.secret.encode()).hexdigest()
    assert session.secret not in repr(tuple(stored)) and token not in repr(tuple(stored))
    resumed = console_sessions.resume(ctx, session.secret)
    assert isinstance(resumed, SignedIn) and resumed.official.id == official_id and resumed.csrf == session.csrf
    assert ("console.sign-in", None) in _actions(ctx)  # R7.2: access is recorded


def test_a_bad_token_opens_nothing_and_is_audited(ctx: Node, officer: Actor) -> None:
    with pytest.raises(AuthenticationFailed):
        console_sessions.sign_in(ctx, "gsomia_forged", caller="10.0.0.9", throttle=FailedAuthentications())
    assert ("authenticate", None) in _actions(ctx)
    assert console_sessions.resume(ctx, "no-such-secret") is None


def test_an_idle_session_ends_and_says_why(ctx: Node, officer: Actor) -> None:
    _, token = _reader(ctx, officer)
    session = console_sessions.sign_in(ctx, token, caller="127.0.0.1", throttle=FailedAuthentications())
    clock = ctx.clock
    clock.now += timedelta(seconds=ctx.settings.console_idle_timeout_s - 1)  # type: ignore[attr-defined]
    assert isinstance(console_sessions.resume(ctx, session.secret), SignedIn)  # in use: its idle time restarts
    clock.now += timedelta(seconds=ctx.settings.console_idle_timeout_s - 1)  # type: ignore[attr-defined]
    assert isinstance(console_sessions.resume(ctx, session.secret, touch=False), SignedIn)
    clock.now += timedelta(seconds=2)  # type: ignore[attr-defined]
    ended = console_sessions.resume(ctx, session.secret)  # the check above did not count as use
    assert isinstance(ended, Ended) and "no request" in ended.reason
    assert console_sessions.resume(ctx, session.secret) is None  # gone server-side
    assert ("console.session-ended", None) in _actions(ctx)


def test_a_session_ends_at_its_maximum_age_however_busy(ctx: Node, officer: Actor) -> None:
    node = replace(ctx, settings=ctx.settings.model_copy(update={"console_session_max_s": 60.0}))
    _, token = _reader(node, officer)
    session = console_sessions.sign_in(node, token, caller="127.0.0.1", throttle=FailedAuthentications())
    answers = []
    for _ in range(7):  # a request every 10 s: never idle
        node.clock.now += timedelta(seconds=10)  # type: ignore[attr-defined]
        answers.append(console_sessions.resume(node, session.secret))
    assert all(isinstance(a, SignedIn) for a in answers[:5])
    ended = answers[5]  # 60 s and a little after sign-in
    assert isinstance(ended, Ended) and "sign in again" in ended.reason


@pytest.mark.parametrize("change", ["suspend", "revoke"])
def test_suspending_or_revoking_the_official_ends_their_session_at_once(ctx: Node, officer: Actor,
                                                                        change: str) -> None:
    official_id, token = _reader(ctx, officer)
    session = console_sessions.sign_in(ctx, token, caller="127.0.0.1", throttle=FailedAuthentications())
    getattr(officials, change)(ctx, officer, official_id, reason="console tests")
    ended = console_sessions.resume(ctx, session.secret)
    assert isinstance(ended, Ended)  # its token was revoked with the status change (R7.1)


def test_a_changed_clearance_is_what_the_next_request_sees(ctx: Node, officer: Actor) -> None:
    official_id, token = _reader(ctx, officer)
    session = console_sessions.sign_in(ctx, token, caller="127.0.0.1", throttle=FailedAuthentications())
    officials.update(ctx, officer, official_id, reason="re-cleared", clearance="KOR:III", need_to_know=["logistics"])
    resumed = console_sessions.resume(ctx, session.secret)
    assert isinstance(resumed, SignedIn)
    assert str(resumed.official.clearance) == "KOR:III" and resumed.official.need_to_know == {"logistics"}


def test_signing_out_ends_the_session_server_side(ctx: Node, officer: Actor) -> None:
    _, token = _reader(ctx, officer)
    session = console_sessions.sign_in(ctx, token, caller="127.0.0.1", throttle=FailedAuthentications())
    console_sessions.sign_out(ctx, session)
    assert console_sessions.resume(ctx, session.secret) is None
    assert ("console.sign-out", None) in _actions(ctx)


def test_a_message_is_shown_once_and_a_refused_form_is_audited(ctx: Node, officer: Actor) -> None:
    _, token = _reader(ctx, officer)
    session = console_sessions.sign_in(ctx, token, caller="127.0.0.1", throttle=FailedAuthentications())
    console_sessions.flash(ctx, session, "Released.")
    first, second = console_sessions.resume(ctx, session.secret), console_sessions.resume(ctx, session.secret)
    assert isinstance(first, SignedIn) and isinstance(second, SignedIn)
    assert (first.flash, second.flash) == (("Released.",), ())
    assert console_sessions.csrf_matches(first, session.csrf)
    assert not console_sessions.csrf_matches(first, None) and not console_sessions.csrf_matches(first, "0" * 64)
    console_sessions.refuse_form(ctx, first, "console.form POST /console/items", "no CSRF token")
    assert _actions(ctx)[-1][0] == "console.form POST /console/items"
