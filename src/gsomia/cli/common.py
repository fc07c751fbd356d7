"""What the catalogue commands (`agreements`, `decide`) share: clear errors with exit code 2, JSON output,
the catalogue. Imported by the commands as they run (it brings Rich and the catalogue), never at start-up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import typer

from gsomia.cli.options import EXIT_BAD_INPUT
from gsomia.cli.output import Output, err, out, print_json

if TYPE_CHECKING:
    from gsomia.domain.catalog import Catalog

__all__ = ["USAGE_ERROR", "catalog", "clear_errors", "console", "err_console", "fail", "guarded", "print_json"]

T = TypeVar("T")
console: Output = out()  # stdout (looked up as it prints): never wrapped when piped (cli/output.py)
err_console: Output = err()

USAGE_ERROR = EXIT_BAD_INPUT


def fail(message: str, code: int = USAGE_ERROR) -> typer.Exit:
    """Print `error: …` to stderr and return the Exit to raise."""
    from rich.text import Text

    err_console.print(Text.assemble(("error:", "bold red"), " ", message))
    return typer.Exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn domain errors into one line on stderr and exit code 2: never a traceback."""
    from gsomia.domain.errors import DomainError

    try:
        yield
    except DomainError as bad:
        raise fail(str(bad)) from None


def catalog() -> Catalog:
    from gsomia.data import load_catalog

    with clear_errors():
        return load_catalog()


def guarded(fn: Callable[[], T]) -> T:
    with clear_errors():
        return fn()
