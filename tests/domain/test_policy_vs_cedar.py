"""Differential test: gsomia's release decisions against an independent Cedar model of the same rule."""

from __future__ import annotations

from benchmarks.cedar_model import CedarRelease
from benchmarks.policy_workload import release_requests
from domain_builders import CATALOG

from gsomia.domain.policy import decide


def test_gsomia_and_cedar_agree_on_every_release_decision() -> None:
    requests = release_requests(CATALOG, 600, seed=11)
    cedar = CedarRelease(requests, CATALOG)
    theirs = cedar.decide_batch(range(len(requests)))
    ours = [decide(r, CATALOG).allowed for r in requests]
    assert 100 < sum(ours) < 500, "the workload mixes allowed and denied decisions"
    mismatches = [(r, a, b) for r, a, b in zip(requests, ours, theirs, strict=True) if a != b]
    assert not mismatches, mismatches[:3]
