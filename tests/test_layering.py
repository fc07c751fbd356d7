"""Imports point inward (shared/architecture.md), read from the source:

    node.py ─▶ api, cli, federation, feed ─▶ services ─▶ domain, crypto, storage

- `domain` imports nothing of ours but `domain`; `storage` only `domain`; `crypto` neither services nor
  anything outward.
- `services` never reach outward (api, cli, federation, feed, the composition root).
- `federation` and `feed` reach the store only through services: they import no storage module (the
  record types they pass along are named by `services.records`), and never open a unit of work themselves.
- Nothing but the composition root (`gsomia/node.py`) imports `api`; the CLI reaches a running node
  through `gsomia.node` only to serve it.
- `console` (the web console) reaches only services and domain; only the API's app factory mounts it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gsomia"
PACKAGES = sorted(p.name for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("__"))


def _modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gsomia"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("gsomia"))
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "gsomia"


def _files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


ALLOWED = {
    "domain": {"domain"},
    "storage": {"domain", "storage"},
    "crypto": {"crypto"},
    "data": {"data", "domain"},
    "services": {"domain", "storage", "services", "config", "data", "crypto"},
    "edge": {"edge"},
    "federation": {"federation", "services", "domain", "crypto", "edge"},
    "feed": {"feed", "services", "domain", "crypto", "data"},
    "api": {"api", "services", "domain", "config", "data", "storage", "edge", "console"},
    "console": {"console", "services", "domain", "edge"},
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_inward(package: str) -> None:
    for path in _files(package):
        outward = {m for m in _modules(path) if _layer(m) not in ALLOWED[package]}
        assert not outward, f"{path.relative_to(SRC)} imports {sorted(outward)}"


@pytest.mark.parametrize("package", ["federation", "feed"])
def test_the_transports_reach_the_store_only_through_services(package: str) -> None:
    for path in _files(package):
        storage = {m for m in _modules(path) if _layer(m) == "storage"}
        assert not storage, f"{path.relative_to(SRC)} imports {sorted(storage)}"
        calls = [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(n, ast.Attribute) and n.attr in ("unit_of_work", "batch")]
        assert not calls, f"{path.relative_to(SRC)} opens units of work itself (line {calls[0].lineno})"


def test_nothing_but_the_composition_root_imports_the_api() -> None:
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(SRC / "api") or path == SRC / "node.py":
            continue
        api = {m for m in _modules(path) if _layer(m) == "api"}
        assert not api, f"{path.relative_to(SRC)} imports {sorted(api)}"


def test_only_the_api_app_mounts_the_console() -> None:
    """The console is an edge like the API: only the API's app factory (and the composition root) import it."""
    allowed = {SRC / "api" / "app.py", SRC / "node.py"}
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(SRC / "console") or path in allowed:
            continue
        console = {m for m in _modules(path) if _layer(m) == "console"}
        assert not console, f"{path.relative_to(SRC)} imports {sorted(console)}"


def test_the_layer_list_covers_every_package() -> None:
    assert set(PACKAGES) <= set(ALLOWED) | {"cli", "demo"}, PACKAGES
