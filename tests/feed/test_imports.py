"""Import rules for the feed: it never reaches outward (api, cli, federation, storage but its plain record
types, as tests/test_layering.py allows), and its data modules stay free of I/O so anything can use them
without pulling in sockets or brokers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gsomia.feed

FEED = Path(gsomia.feed.__file__).parent
OUTWARD = ("gsomia.api", "gsomia.cli", "gsomia.federation", "gsomia.storage", "gsomia.console")
RECORDS = ("gsomia.storage.records",)
PURE = {"tracks", "wire", "trajectory", "sequence", "dissemination", "cot", "batch_signing", "errors", "hop_audit"}
IO = ("asyncio", "websockets", "nats", "sqlite3", "socket", "ssl")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(FEED.glob("*.py")), ids=lambda p: p.stem)
def test_feed_module_imports(path: Path) -> None:
    names = imports(path)
    assert not [n for n in names if n.startswith(OUTWARD) and n not in RECORDS], f"{path.stem} reaches outward"
    if path.stem in PURE:
        assert not [n for n in names if n.split(".")[0] in IO], f"{path.stem} should do no I/O"
