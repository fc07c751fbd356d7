"""The API is an edge: it reaches the store only through the services (with two named exceptions),
and there is no global app object: `create_app(node)` is the only way to get one."""

from __future__ import annotations

import ast
from pathlib import Path

import gsomia.api

API = Path(gsomia.api.__file__).parent
ALLOWED = {"api", "services", "domain", "config", "data", "edge"}
# Plain record dataclasses for typing; and the app factory mounts the web console (another edge).
STORAGE_EXCEPTIONS = {("views.py", "gsomia.storage.records"), ("routes/exchange.py", "gsomia.storage.exchange"),
                      ("app.py", "gsomia.console")}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_api_goes_through_the_services() -> None:
    for path in API.rglob("*.py"):
        name = path.relative_to(API).as_posix()
        for module in _imports(path):
            if module.startswith("gsomia.") and module.split(".")[1] not in ALLOWED:
                assert (name, module) in STORAGE_EXCEPTIONS, f"{name} imports {module}"


def test_no_module_level_app_object() -> None:
    for path in API.rglob("*.py"):
        for statement in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
                called = ast.unparse(statement.value.func)
                assert called not in ("FastAPI", "fastapi.FastAPI"), f"{path.name}: a global app"
