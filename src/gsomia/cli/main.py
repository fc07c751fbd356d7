"""`gsomia` command line: one Typer app; each concern mounts its own sub-app here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="gsomia",
    help="Exchange classified military information under the GSOMIAs and TISA.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
