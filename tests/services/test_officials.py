"""The register of officials (R6.e, R7): changes recorded with who and why; bad input writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from gsomia.domain.officials import OfficialStatus, Role
from gsomia.services import audit, officials
from gsomia.services.context import Actor, Node
from gsomia.services.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied

State = Callable[[], dict[str, list[str]]]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
NEXT_YEAR = NOW + timedelta(days=365)


def appoint(ctx: Node, actor: Actor, **changes: object) -> officials.OfficialRecord:
    args: dict[str, object] = {"name": "Lee Analyst", "clearance": "KOR:II", "granted": NOW - timedelta(days=1),
                               "expires": NEXT_YEAR, "need_to_know": ["nk-missile"], "roles": ["reader"],
                               "reason": "joins the analysis cell"}
    args.update(changes)
    return officials.appoint(ctx, actor, **args)  # type: ignore[arg-type]


def test_appoint_update_suspend_reinstate_revoke_are_all_recorded(ctx: Node, officer: Actor) -> None:
    lee = appoint(ctx, officer).official
    assert (lee.party, str(lee.clearance), lee.need_to_know, lee.roles) == (
        "KOR", "KOR:II", frozenset({"nk-missile"}), frozenset({Role.READER}))
    updated = officials.update(ctx, officer, lee.id, clearance="군사III급비밀", roles=["releasing_official"],
                               reason="moved to the releasing office")
    assert str(updated.official.clearance) == "KOR:III" and updated.official.roles == {Role.RELEASING_OFFICIAL}
    assert updated.official.clearance_expires == NEXT_YEAR  # KEEP left it alone
    officials.suspend(ctx, officer, lee.id, reason="investigation")
    officials.reinstate(ctx, officer, lee.id, reason="cleared")
    officials.revoke(ctx, officer, lee.id, reason="left the service")
    history = officials.history(ctx, officer, lee.id)
    assert [(c.action, c.actor_id) for c in history] == [
        ("appoint", officer.official.id), ("update", officer.official.id), ("suspend", officer.official.id),
        ("reinstate", officer.official.id), ("revoke", officer.official.id)]
    assert history[-1].reason == "left the service"
    actions = [e.action for e in audit.tail(ctx, officer, 10) if e.subject == lee.id]
    assert actions == ["official.appoint", "official.update", "official.suspend", "official.reinstate",
                       "official.revoke"]
    with pytest.raises(Conflict):
        officials.update(ctx, officer, lee.id, reason="too late", name="x")
    assert [r.official.status for r in officials.list_officials(ctx, officer, OfficialStatus.REVOKED)] == [
        OfficialStatus.REVOKED]


def test_tokens_are_shown_once_stored_hashed_and_stop_with_suspension(
        ctx: Node, officer: Actor, db_state: State) -> None:
    lee = appoint(ctx, officer).official
    issued = officials.issue_token(ctx, officer, lee.id, reason="API access")
    assert officials.authenticate(ctx, issued.token) == lee
    assert issued.token not in repr(db_state())  # only its hash is kept
    officials.suspend(ctx, officer, lee.id, reason="investigation")
    with pytest.raises(AuthenticationFailed):
        officials.authenticate(ctx, issued.token)
    officials.reinstate(ctx, officer, lee.id, reason="cleared")
    with pytest.raises(AuthenticationFailed):  # suspension revoked the old tokens for good
        officials.authenticate(ctx, issued.token)
    with pytest.raises(AuthenticationFailed):
        officials.authenticate(ctx, "gsomia_not-a-token")
    failures = [e for e in audit.tail(ctx, officer, 50) if e.action == "authenticate"]
    assert len(failures) == 3 and all(e.actor == "anonymous" for e in failures)


def test_bootstrap_only_on_an_empty_register(ctx: Node, officer: Actor) -> None:
    with pytest.raises(Conflict):
        officials.bootstrap(ctx, name="Another", clearance=None, expires=None)
    assert officer.official.roles == {Role.SECURITY_OFFICER}
    assert str(officer.official.clearance) == "KOR:I"  # the top of the party's scheme by default


BAD_INPUT = [
    ({"clearance": "XYZ:II"}, "unknown party"),
    ({"clearance": "JPN:HI"}, "not a KOR classification"),
    ({"clearance": "KOR:IV"}, "not a KOR classification"),
    ({"expires": NOW - timedelta(days=1)}, "expired"),
    ({"granted": NOW + timedelta(days=2)}, "in the future"),
    ({"roles": ["admiral"]}, "unknown role"),
    ({"roles": []}, "at least one role"),
    ({"name": "  "}, "name is empty"),
    ({"reason": ""}, "reason"),
    ({"need_to_know": [""]}, "empty need-to-know"),
]


@pytest.mark.parametrize("changes,message", BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_appointments_are_refused_and_write_nothing(
        ctx: Node, officer: Actor, db_state: State, changes: dict[str, object], message: str) -> None:
    before = db_state()
    with pytest.raises(InvalidInput, match=message):
        appoint(ctx, officer, **changes)
    assert db_state() == before


@pytest.mark.parametrize("call", [
    lambda ctx, actor: officials.update(ctx, actor, "OFF-missing", reason="x", name="y"),
    lambda ctx, actor: officials.suspend(ctx, actor, "OFF-missing", reason="x"),
    lambda ctx, actor: officials.revoke(ctx, actor, "OFF-missing", reason="x"),
    lambda ctx, actor: officials.issue_token(ctx, actor, "OFF-missing", reason="x"),
], ids=["update", "suspend", "revoke", "token"])
def test_unknown_officials_are_refused_and_write_nothing(ctx: Node, officer: Actor, db_state: State,
                                                         call: object) -> None:
    before = db_state()
    with pytest.raises(NotFound, match="unknown official"):
        call(ctx, officer)  # type: ignore[operator]
    assert db_state() == before


def test_bad_update_writes_nothing(ctx: Node, officer: Actor, db_state: State) -> None:
    lee = appoint(ctx, officer).official
    before = db_state()
    with pytest.raises(InvalidInput, match="expired"):
        officials.update(ctx, officer, lee.id, expires=NOW - timedelta(days=3), reason="typo")
    assert db_state() == before


def test_only_an_active_security_officer_keeps_the_register_and_refusals_are_audited(
        ctx: Node, officer: Actor) -> None:
    reader = Actor(appoint(ctx, officer).official, "test")
    with pytest.raises(PermissionDenied, match="security_officer"):
        appoint(ctx, reader, name="Park")
    refusal = audit.tail(ctx, officer, 1)[0]
    assert (refusal.actor, refusal.action, refusal.rules) == (reader.official.id, "official.appoint", ("R6.e", "R7.1"))
    deputy = appoint(ctx, officer, name="Deputy", roles=["security_officer"]).official
    officials.suspend(ctx, officer, deputy.id, reason="leave")
    suspended = Actor(officials.get(ctx, officer, deputy.id).official, "test")
    with pytest.raises(PermissionDenied, match="suspended"):
        officials.list_officials(ctx, suspended)


def test_the_last_security_officer_cannot_be_removed(ctx: Node, officer: Actor, db_state: State) -> None:
    before = db_state()
    calls: list[Callable[[], object]] = [
        lambda: officials.suspend(ctx, officer, officer.official.id, reason="oops"),
        lambda: officials.revoke(ctx, officer, officer.official.id, reason="oops"),
        lambda: officials.update(ctx, officer, officer.official.id, roles=["reader"], reason="oops")]
    for call in calls:
        with pytest.raises(Conflict, match="last active security officer"):
            call()
    assert db_state() == before
    appoint(ctx, officer, name="Deputy", roles=["security_officer"])
    officials.revoke(ctx, officer, officer.official.id, reason="retires; the deputy takes over")
