"""`gsomia` command line: one Typer app; each concern mounts its own commands here.

Start-up is kept light: this module and the command modules it mounts import only Typer and the standard
library (a test checks it), and each command imports what it needs as it runs, so `gsomia --help` or
`gsomia decide` never loads the server, the database layer or the crypto. Help is plain text
(`rich_markup_mode=None`): Rich's help formatter alone would cost more than Typer's whole import. Output of
the commands themselves still goes through Rich (cli/output.py). Exit codes: cli/options.py.
"""

from __future__ import annotations

import typer

from gsomia.cli import agreements, audit, decide, demo, exchange, feed, items, keys, messages, node_commands, officials
from gsomia.cli import cot as cot_commands
from gsomia.cli import serve as serve_commands
from gsomia.cli import standards as standards_commands  # noqa: F401  (its commands join `items` and `feed`)
from gsomia.cli.backup import backup_command, restore_command

app = typer.Typer(
    name="gsomia",
    help="Exchange classified military information under the GSOMIAs and TISA. Exit codes: 0 done, "
         "1 unavailable, 2 bad input, 3 refused, 4 not found, 5 conflict.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

app.command("init")(node_commands.init)
app.command("migrate")(node_commands.migrate)
app.command("health")(node_commands.health)
app.command("whoami")(node_commands.whoami)
app.command("serve")(serve_commands.serve_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.command("demo")(demo.demo_command)
app.command("decide")(decide.decide_command)
app.command("verify")(keys.verify_command)
app.command("outbox")(messages.outbox)
app.command("inbox")(messages.inbox)

app.add_typer(agreements.agreements_app, name="agreements")
app.add_typer(officials.app, name="officials")
app.add_typer(items.app, name="items")  # with the cross-border commands of exchange.py
app.add_typer(exchange.consents_app, name="consents")
app.add_typer(exchange.reports_app, name="reports")
app.add_typer(audit.app, name="audit")
app.add_typer(feed.app, name="feed")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(serve_commands.peers_app, name="peers")
app.add_typer(cot_commands.app, name="cot")
