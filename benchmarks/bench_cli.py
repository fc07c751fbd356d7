"""How fast the CLI starts: `gsomia --help` and a few commands, against `python -c "import typer"` in the same run.

    .venv/bin/python -m benchmarks.bench_cli [--quick]

Every command is a fresh process, run as a user runs it (the `gsomia` console script beside this Python);
the baseline is the same interpreter importing Typer and nothing else: the floor of any Typer CLI. The runs are
interleaved (baseline, then each command, repeated) so that noise from other work on the machine hits all of
them alike, and medians are compared. Target (issue 14): `gsomia --help` at most 2× the baseline.

The other lines show what a command costs beyond Typer once it does its work: `decide` loads the catalogue
and the policy; `officials list` opens a node's database (SQLAlchemy, the settings, the services).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 2.0
REQUEST = ('{"action": "release", "at": "2016-11-01T00:00:00Z", "subject": {"party": "KOR", "clearance": "KOR:II",'
           ' "need_to_know": ["dprk-missile"], "roles": ["releasing_official"]}, "item": {"originator": "KOR",'
           ' "classification": "KOR:II", "releasable_to": ["USA", "JPN", "KOR"], "topics": ["dprk-missile"],'
           ' "purpose": "missile warning"}, "recipient": "JPN"}')


def gsomia() -> list[str]:
    script = Path(sys.executable).parent / "gsomia"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gsomia.cli"]


def timed(command: list[str], env: dict[str, str], stdin: str | None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[:300]}")
    return elapsed


def main(args: list[str] | None = None) -> None:
    quick = "--quick" in (sys.argv[1:] if args is None else args)
    repeats = 5 if quick else 21
    with tempfile.TemporaryDirectory(prefix="gsomia-bench-cli-") as base:
        env = {**os.environ, "GSOMIA_KEY_PASSPHRASE": "bench passphrase", "GSOMIA_TOKEN": ""}
        data = str(Path(base) / "node")
        subprocess.run([*gsomia(), "init", "--party", "KOR", "--name", "bench", "--data", data],
                       capture_output=True, env=env, check=True)
        cases: list[tuple[str, list[str], str | None]] = [
            ('python -c "import typer"', [sys.executable, "-c", "import typer"], None),
            ("gsomia --help", [*gsomia(), "--help"], None),
            ("gsomia items release --help", [*gsomia(), "items", "release", "--help"], None),
            ("gsomia decide (one request)", [*gsomia(), "decide"], REQUEST),
            ("gsomia officials list --json", [*gsomia(), "officials", "list", "--data", data, "--json"], None),
        ]
        samples: list[list[float]] = [[] for _ in cases]
        timed(cases[1][1], env, None)  # warm the file cache and bytecode once
        for _ in range(repeats):
            for (_, command, stdin), times in zip(cases, samples, strict=True):
                times.append(timed(command, env, stdin))
    floor = statistics.median(samples[0])
    print(f"{'command':34} {'median ms':>10} {'p90 ms':>8} {'× import typer':>15}")
    for (name, _, _), times in zip(cases, samples, strict=True):
        median = statistics.median(times)
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        print(f"{name:34} {median * 1000:10.0f} {p90 * 1000:8.0f} {median / floor:15.2f}")
    ratio = statistics.median(samples[1]) / floor
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"gsomia --help: {ratio:.2f}× `import typer` (target ≤ {TARGET:g}×): {verdict} ({repeats} interleaved runs)")


if __name__ == "__main__":
    main()
