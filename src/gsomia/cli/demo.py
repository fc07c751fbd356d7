"""`gsomia demo`: the scenario of the README, step by step, each step with its decision."""

from __future__ import annotations

from typing import Annotated

import typer

from gsomia.demo.scenario import run_policy_walkthrough


def demo_command(once: Annotated[bool, typer.Option("--once", help="Exit when the scenario ends")] = True) -> None:
    """Run the demo scenario and print every step and its decision."""
    ok = run_policy_walkthrough()
    raise typer.Exit(0 if ok else 1)
