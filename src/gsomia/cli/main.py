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

from gsomia.cli import audit as audit_cli  # noqa: E402
from gsomia.cli import items as items_cli  # noqa: E402
from gsomia.cli import officials as officials_cli  # noqa: E402
from gsomia.cli.node import init as init_command  # noqa: E402
from gsomia.cli.node import migrate as migrate_command  # noqa: E402

app.command("init")(init_command)
app.command("migrate")(migrate_command)
app.add_typer(officials_cli.app, name="officials")
app.add_typer(items_cli.app, name="items")
app.add_typer(audit_cli.app, name="audit")

from gsomia.cli.keys import keys_app, verify_command  # noqa: E402

app.add_typer(keys_app, name="keys")
app.command("verify")(verify_command)

from gsomia.cli.demo import demo_command  # noqa: E402

app.command("demo")(demo_command)

from gsomia.cli.serve import peers_app, serve_command  # noqa: E402

app.command("serve")(serve_command)
app.add_typer(peers_app, name="peers")
