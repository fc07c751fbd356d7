"""What the CLI prints: ids never cut, nothing wrapped when the output is not a terminal."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from gsomia.cli import output
from gsomia.cli.output import Output, print_table

LONG_ID = "KOR-1d410a54c0ffee00aa11bb22cc33"
ROWS = [(LONG_ID, "Lee Ji-won, desk officer for missile warning", "released under jpn-kor-gsomia-2016 " * 3)]


def terminal(monkeypatch: pytest.MonkeyPatch, width: int) -> io.StringIO:
    """The CLI's stdout as a terminal `width` columns wide."""
    screen = io.StringIO()
    monkeypatch.setattr(output, "out", lambda wide=False: Output(wide=wide, file=screen, force_terminal=True,
                                                                 width=width, color_system=None))
    return screen


@pytest.mark.parametrize("width", [20, 40, 80])
def test_a_table_on_a_narrow_terminal_keeps_every_id_whole(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    screen = terminal(monkeypatch, width)
    print_table(("id", "name", "detail"), ROWS)
    assert LONG_ID in screen.getvalue() and "…" not in screen.getvalue()


def test_a_table_fits_the_terminal_by_wrapping_its_other_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = terminal(monkeypatch, 80)
    print_table(("id", "name", "detail"), ROWS)
    assert max(len(line) for line in screen.getvalue().splitlines()) <= 80 and LONG_ID in screen.getvalue()


def test_wide_never_wraps_a_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = terminal(monkeypatch, 80)
    print_table(("id", "name", "detail"), ROWS, wide=True)
    assert ROWS[0][2].strip() in screen.getvalue()


def test_nothing_is_wrapped_when_the_output_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    piped = io.StringIO()
    console = Output(file=piped)
    console.print("word " * 60)
    assert len(piped.getvalue().splitlines()) == 1
    monkeypatch.setattr(output, "out", lambda wide=False: Output(wide=wide, file=piped))
    print_table(("id", "name", "detail"), ROWS)
    assert ROWS[0][2].strip() in piped.getvalue()


def test_a_piped_command_is_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    """A real process whose stdout is a pipe (and stderr too): Rich would otherwise take 80 columns."""
    listed = subprocess.run([sys.executable, "-m", "gsomia.cli", "agreements", "list", "--at", "2020-01-01"],
                            capture_output=True, text=True, check=True, env={"COLUMNS": "80", "PATH": ""}).stdout
    lines = listed.splitlines()
    assert max(len(line) for line in lines) > 80 and "…" not in listed
    assert any("usa-jpn-kor-tisa-2014" in line and "no (T7)" in line for line in lines)  # one row, one line
