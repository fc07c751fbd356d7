"""Policy throughput: gsomia's decide() against an equivalent Cedar policy (cedarpy), same requests, same run.

    python -m benchmarks.bench_policy [--quick]

Prints decisions/second for single decisions (one call per request) and for the batch path, and the
ratios. The two engines must agree on every decision (checked before timing).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from benchmarks.cedar_model import CedarRelease
from benchmarks.policy_workload import release_requests
from gsomia.data import load_catalog
from gsomia.domain.policy import decide, decide_many


def rate(fn: Callable[[], int], min_seconds: float) -> float:
    """Decisions per second: repeat `fn` (which returns how many it decided) for at least min_seconds; best of 3."""
    best = 0.0
    for _ in range(3):
        done, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < min_seconds:
            done += fn()
        best = max(best, done / elapsed)
    return best


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    seconds = 0.3 if args.quick else 1.0
    catalog = load_catalog()
    requests = release_requests(catalog, 2000)
    cedar = CedarRelease(requests, catalog)

    ours = [decide(r, catalog).allowed for r in requests]
    theirs = cedar.decide_batch(range(len(requests)))
    disagreements = sum(a != b for a, b in zip(ours, theirs, strict=True))
    if disagreements:
        raise SystemExit(f"gsomia and Cedar disagree on {disagreements} of {len(requests)} decisions")
    n = len(requests)

    def gsomia_single() -> int:
        for r in requests:
            decide(r, catalog)
        return n

    def gsomia_single_cold() -> int:
        catalog.governing.clear()  # every governing-agreement lookup computed afresh
        catalog.allowed_releases.clear()
        for r in requests:
            decide(r, catalog)
        return n

    def gsomia_batch() -> int:
        decide_many(requests, catalog)
        return n

    def cedar_single() -> int:
        for i in range(200):
            cedar.decide_one(i)
        return 200

    def cedar_batch() -> int:
        cedar.decide_batch(range(100))
        return 100

    figures = {
        "gsomia_single": rate(gsomia_single, seconds),
        "gsomia_batch": rate(gsomia_batch, seconds),
        "gsomia_single_cold": rate(gsomia_single_cold, seconds),
        "cedar_single": rate(cedar_single, seconds),
        "cedar_batch": rate(cedar_batch, seconds),
    }
    allowed = sum(ours)
    print(f"policy: {n} release requests ({allowed} allowed, {n - allowed} denied); engines agree on all")
    print(f"  cedarpy single      {figures['cedar_single']:>12,.0f} decisions/s   (baseline)")
    print(f"  cedarpy batch(100)  {figures['cedar_batch']:>12,.0f} decisions/s")
    print(f"  gsomia single       {figures['gsomia_single']:>12,.0f} decisions/s   "
          f"{figures['gsomia_single'] / figures['cedar_single']:.1f}x cedarpy single (target >= 5x)")
    print(f"  gsomia single, cold {figures['gsomia_single_cold']:>12,.0f} decisions/s   "
          f"{figures['gsomia_single_cold'] / figures['cedar_single']:.1f}x cedarpy single (memo cleared each pass)")
    print(f"  gsomia batch        {figures['gsomia_batch']:>12,.0f} decisions/s   "
          f"{figures['gsomia_batch'] / figures['cedar_batch']:.1f}x cedarpy batch (target >= 300,000/s)")
    return figures


if __name__ == "__main__":
    main()
