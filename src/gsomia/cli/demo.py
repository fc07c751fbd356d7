"""`gsomia demo`: three nodes on loopback and the scenario, step by step, each step with its decision."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def demo_command(
    once: Annotated[bool, typer.Option("--once", help="Exit when the scenario ends instead of serving on")] = False,
    data: Annotated[Optional[Path], typer.Option("--data", help="Keep the nodes here (default: a temp dir)")] = None,  # noqa: UP007
) -> None:
    """KOR, JPN and USA nodes with their own PKI and SQLite on loopback, and the scenario of the README."""
    from gsomia.demo.scenario import run_demo

    ok = run_demo(once=once, base=data)
    raise typer.Exit(0 if ok else 1)
