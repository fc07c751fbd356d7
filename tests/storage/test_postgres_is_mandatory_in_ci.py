"""Under CI=true an unreachable PostgreSQL fails the contract suite; elsewhere it is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests/storage/test_migrations.py::test_empty_database_migrates_to_head[postgresql]"


def _run(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["GSOMIA_TEST_PG_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs", TARGET],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_unreachable_postgres_fails_under_ci() -> None:
    result = _run("true")
    assert result.returncode == 1, result.stdout
    assert "1 failed" in result.stdout and "mandatory under CI=true" in result.stdout


def test_unreachable_postgres_is_skipped_outside_ci() -> None:
    result = _run(None)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
