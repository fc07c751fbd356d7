"""The CLI's commands go through services, never storage directly (the other layers:
tests/test_layering.py)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "gsomia"


def gsomia_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gsomia."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("gsomia.")}
    return found


def test_the_cli_goes_through_services() -> None:
    for path in sorted((SRC / "cli").glob("*.py")):
        assert "storage" not in gsomia_imports(path), path.name
