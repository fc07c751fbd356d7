"""What every command shares: clear errors with exit code 2, JSON output, the catalogue."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console

from gsomia.data import load_catalog
from gsomia.domain.catalog import Catalog
from gsomia.domain.errors import DomainError

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)

USAGE_ERROR = 2


def fail(message: str, code: int = USAGE_ERROR) -> typer.Exit:
    """Print `error: …` to stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn domain errors into one line on stderr and exit code 2: never a traceback."""
    try:
        yield
    except DomainError as bad:
        raise fail(str(bad)) from None


def catalog() -> Catalog:
    with clear_errors():
        return load_catalog()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def guarded(fn: Callable[[], T]) -> T:
    with clear_errors():
        return fn()
