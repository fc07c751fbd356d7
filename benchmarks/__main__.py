"""Run every benchmark: `python -m benchmarks [--quick]`. Each prints its in-run baseline and ratios."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["bench_policy", "bench_audit", "bench_envelope", "bench_federation", "bench_feed", "bench_cli",
              "bench_cot"]


def main() -> None:
    args = sys.argv[1:]
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as missing:
            if missing.name == f"benchmarks.{name}":
                continue  # not written yet
            raise
        print(f"\n== {name} ==", flush=True)
        module.main(args)


if __name__ == "__main__":
    main()
