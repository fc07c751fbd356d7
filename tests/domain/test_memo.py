"""The catalogue's memos of derived facts: bounded, typed, and all forgotten at once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from domain_builders import request

from gsomia.data import load_catalog
from gsomia.domain.memo import BoundedCache
from gsomia.domain.policy import decide


def test_a_cache_never_holds_more_than_its_limit() -> None:
    cache: BoundedCache[int, str] = BoundedCache(4)
    for n in range(10):
        assert cache.put(n, str(n)) == str(n)
        assert len(cache) <= 4
    assert cache.get(9) == "9" and cache.get(0) is None


def test_a_cleared_cache_still_answers() -> None:
    cache: BoundedCache[str, int] = BoundedCache(8)
    cache.put("a", 1)
    cache.clear()
    assert cache.get("a") is None and len(cache) == 0
    cache.put("a", 2)
    assert cache.get("a") == 2


def test_forget_empties_every_derived_fact() -> None:
    catalog = load_catalog()  # its own: the shared one's memos are other tests' business
    release = request()
    allowed = decide(release, catalog)
    assert allowed.allowed
    caches = (catalog._status_cache, catalog.governing, catalog.allowed_releases)
    assert all(len(cache) > 0 for cache in caches)
    catalog.forget()
    assert all(len(cache) == 0 for cache in caches)
    assert decide(release, catalog) == allowed  # recomputed, the same answer


def test_answers_are_remembered_per_local_day() -> None:
    catalog = load_catalog()  # every agreement's dates are local to +09:00: the day turns at 15:00 UTC
    day = datetime(2024, 6, 1, tzinfo=timezone.utc)
    assert catalog.day_key(day) == catalog.day_key(day + timedelta(hours=14, minutes=59))
    assert catalog.day_key(day + timedelta(hours=14, minutes=59)) != catalog.day_key(day + timedelta(hours=15))
