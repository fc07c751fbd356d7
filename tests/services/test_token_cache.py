"""The cache of recently authenticated tokens: what it may return, and when it must forget (R7.2)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gsomia.services import officials
from gsomia.services.context import Actor, Node
from gsomia.services.errors import AuthenticationFailed
from gsomia.services.token_cache import TTL_S, TokenCache, cache_of


def _official_with_token(ctx: Node, officer: Actor) -> tuple[str, str]:
    now = ctx.clock()
    lee = officials.appoint(ctx, officer, name="Lee", clearance="KOR:II", granted=now,
                            expires=now + timedelta(days=30), need_to_know=["dprk-missile"], roles=["reader"],
                            reason="analyst").official
    return lee.id, officials.issue_token(ctx, officer, lee.id, reason="API access").token


def test_a_token_checked_a_moment_ago_needs_no_lookup_and_a_register_change_forgets_it(
        ctx: Node, officer: Actor) -> None:
    official_id, token = _official_with_token(ctx, officer)
    assert officials.recently_authenticated(ctx, token) is None  # nothing cached before a real check
    assert officials.authenticate(ctx, token).id == official_id
    cached = officials.recently_authenticated(ctx, token)
    assert cached is not None and cached.id == official_id
    officials.suspend(ctx, officer, official_id, reason="investigation")
    assert officials.recently_authenticated(ctx, token) is None  # at once, not after the TTL
    with pytest.raises(AuthenticationFailed):
        officials.authenticate(ctx, token)
    assert officials.recently_authenticated(ctx, token) is None  # failures are never cached


def test_an_expired_clearance_is_refused_even_from_the_cache(ctx: Node, officer: Actor) -> None:
    _, token = _official_with_token(ctx, officer)
    officials.authenticate(ctx, token)
    ctx.clock.now += timedelta(days=31)  # type: ignore[attr-defined] - the tests' settable clock
    assert officials.recently_authenticated(ctx, token) is None


def test_entries_last_the_ttl_only(ctx: Node, officer: Actor) -> None:
    now = [0.0]
    cache = TokenCache(clock=lambda: now[0])
    official = officer.official
    cache.put("digest", official)
    now[0] = TTL_S / 2
    assert cache.get("digest") == official
    now[0] = TTL_S * 1.5
    assert cache.get("digest") is None
    assert cache_of(ctx.store) is cache_of(ctx.store)
