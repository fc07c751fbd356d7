"""`gsomia` command line: one Typer app; each concern mounts its own sub-app here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="gsomia",
    help="Exchange classified military information under the GSOMIAs and TISA.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

from gsomia.cli.agreements import agreements_app  # noqa: E402
from gsomia.cli.decide import decide_command  # noqa: E402

app.add_typer(agreements_app, name="agreements")
app.command("decide")(decide_command)

from gsomia.cli.keys import keys_app, verify_command  # noqa: E402

app.add_typer(keys_app, name="keys")
app.command("verify")(verify_command)

from gsomia.cli.demo import demo_command  # noqa: E402

app.command("demo")(demo_command)
