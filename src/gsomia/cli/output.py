"""How every command prints: Rich consoles that never wrap what goes to a file or a pipe, tables that never
cut an id, JSON, and one-line errors with an exit code.

- On a terminal, text is not wrapped (`soft_wrap`: a long line is the terminal's to fold) and tables fit the
  terminal's width by wrapping their other cells; an id column is never wrapped or cut, and a table that
  cannot fit its ids whole is printed wider than the terminal instead. `--wide` never wraps any cell.
- Anywhere else (a pipe, a file, the tests' runner) nothing is wrapped: there is no width to fit. Rich would
  otherwise take the width of whatever terminal stdin or stderr is attached to, or 80 columns.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table
from rich.text import Text

from gsomia.cli.options import EXIT_BAD_INPUT

UNLIMITED = 10_000  # columns: wider than any line the CLI prints
SPACING = 3  # a table column's padding and rule, in columns


class Output(Console):
    """A console with the width policy of the module docstring."""

    def __init__(self, *, stderr: bool = False, wide: bool = False, **console: Any) -> None:
        super().__init__(stderr=stderr, soft_wrap=True, highlight=False, **console)
        self.wide = wide

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        return measured if self.is_terminal and not self.wide else ConsoleDimensions(UNLIMITED, measured.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


def out(*, wide: bool = False) -> Output:
    """Standard output (its stream is looked up as it prints, so a test's captured stdout works too)."""
    return Output(wide=wide)


def err() -> Output:
    return Output(stderr=True)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """`error: …` on stderr, and the exit code."""
    err().print(Text.assemble(("error:", "bold red"), " ", message))
    raise typer.Exit(code)


def write_private(path: Path, data: bytes) -> None:
    """Written 0600 from creation on: content, certificates and tokens are nobody else's business."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    except OSError as bad:
        fail(f"{path}: {bad.strerror}")


def shown(value: object) -> str:
    """A value as a person reads it: times in ISO 8601 UTC (Z), lists joined, nothing as "-"."""
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(shown(v) for v in value) or "-"
    return str(value)


def _instant(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value.tzinfo else value.isoformat()


def _json_default(value: object) -> str:
    return _instant(value) if isinstance(value, datetime) else str(value)


def read_documents(file: Path | None) -> list[Any]:
    """The JSON documents in `file` (standard input if None or `-`): a JSON list's elements, one JSON value, or
    JSON Lines; exit 2 naming the first line that is not JSON."""
    try:
        text = sys.stdin.read() if file is None or str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as bad:
        fail(f"{file}: {getattr(bad, 'strerror', None) or bad}")
    try:
        whole = json.loads(text)
        return whole if isinstance(whole, list) else [whole]
    except json.JSONDecodeError:
        pass
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as bad:
                fail(f"line {number} is not JSON: {bad.msg} (column {bad.colno})")
    return documents


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def print_fields(fields: dict[str, object], as_json: bool) -> None:
    """One record: as JSON, or one bold `key: value` line per field."""
    if as_json:
        print_json(fields)
        return
    console = out()
    for key, value in fields.items():
        console.print(Text.assemble((key, "bold"), ": ", shown(value)))


@contextmanager
def progress(label: str, total: int, *, shown: bool = True) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long work (`shown`), gone when done; yields `advance(n)`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=err(), transient=True,
                  disable=not shown) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, ids: Sequence[str] = ("id",),
                wide: bool = False, title: str | None = None, empty: str = "none") -> None:
    """A table whose `ids` columns are never wrapped or cut (see the module docstring); `empty` if no row."""
    cells = [[shown(value) for value in row] for row in rows]
    console = out(wide=wide)
    if not cells:
        console.print(f"({empty})")
        return
    table = Table(title=title, title_justify="left")
    needed = 1
    for index, name in enumerate(columns):
        whole = max(len(name), *(len(row[index]) for row in cells))
        if name in ids:
            table.add_column(name, no_wrap=True, min_width=whole)
            needed += whole + SPACING
        else:
            table.add_column(name, overflow="fold")
            needed += min(whole, 8) + SPACING
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))  # as written: a name with [brackets] is not markup
    if console.width < needed:
        console = out(wide=True)  # wider than the terminal rather than an id cut in two
    console.print(table)
