"""What every command declares: the shared options and the exit codes. Light on purpose: `gsomia --help`
builds every command from these and imports nothing else (a command imports its work when it runs).

Exit codes, for every command (the README lists them too):

    0  done
    1  unavailable: the database, the keys' files, the running node (feed), or a delivery not settled in time
    2  bad input: a malformed or missing option or file, an unknown party or marking; nothing was written
    3  refused: by the policy (its rules and reasons are printed), by the register, or an invalid token
    4  not found: no such item, official, consent, report or message here
    5  conflict: the record's state forbids it (a destroyed item, a consent already answered)

`audit verify` and `verify` also exit 1 when what they check is bad (a broken chain, an invalid signature).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_UNAVAILABLE = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5

TOKEN_ENV = "GSOMIA_TOKEN"

DataOption = Annotated[Path, typer.Option("--data", envvar="GSOMIA_DATA", help="The node's data directory.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON).")]
WideOption = Annotated[bool, typer.Option("--wide", help="Never wrap table cells (lines may exceed the terminal).")]
Reason = Annotated[str, typer.Option(help="Why: recorded with the change.")]


def group(help_text: str) -> typer.Typer:
    """A command group (`gsomia items …`): without a command, its help."""
    return typer.Typer(help=help_text, no_args_is_help=True)

# A label's fields, as `items originate` and `feed post` take them.
Classification = Annotated[str, typer.Option(help="This party's marking, e.g. KOR:II.")]
Purpose = Annotated[str, typer.Option(help="What it is provided for (R6.b).")]
Topics = Annotated[list[str], typer.Option("--topics", "--topic", help="Topics, comma-separated or repeated.")]
Rel = Annotated[list[str] | None, typer.Option("--rel", help="Releasable to, e.g. USA,JPN.")]


def words(values: list[str] | None) -> list[str]:
    """`--topic a,b --topic c` as [a, b, c], sorted, each once."""
    return sorted({w.strip() for v in values or () for w in v.split(",") if w.strip()})
