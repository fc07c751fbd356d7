"""The CLI does everything the officials' API does: every operation of the published OpenAPI document has its
command (the table below says which), every command answers `--json`, and `gsomia --help` loads no more than
Typer and the command modules (each command imports its work as it runs).

A new API operation fails the first test until its command is written and named here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main

from gsomia.api import create_app
from gsomia.cli.main import app
from gsomia.config import Settings
from gsomia.services.runtime import unchecked_node

# (method, path) of the API → the CLI command that does the same
COMMANDS = {
    ("GET", "/v1/health"): "health",
    ("GET", "/v1/whoami"): "whoami",
    ("GET", "/v1/agreements"): "agreements list",
    ("GET", "/v1/agreements/{agreement_id}"): "agreements show",
    ("GET", "/v1/agreements/{agreement_id}/status"): "agreements status",
    ("POST", "/v1/agreements/{agreement_id}/notices"): "agreements notice",
    ("POST", "/v1/agreements/{agreement_id}/amendments"): "agreements amend",
    ("GET", "/v1/agreements/{agreement_id}/events"): "agreements events",
    ("GET", "/v1/agreements/{agreement_id}/versions"): "agreements versions",
    ("POST", "/v1/agreement-events/{event_id}/confirm"): "agreements confirm",
    ("POST", "/v1/agreement-events/{event_id}/reject"): "agreements reject",
    ("POST", "/v1/decide"): "decide",
    ("GET", "/v1/officials"): "officials list",
    ("POST", "/v1/officials"): "officials appoint",
    ("GET", "/v1/officials/{official_id}"): "officials show",
    ("GET", "/v1/officials/{official_id}/access"): "officials access",
    ("PATCH", "/v1/officials/{official_id}"): "officials update",
    ("POST", "/v1/officials/{official_id}/suspend"): "officials suspend",
    ("POST", "/v1/officials/{official_id}/reinstate"): "officials reinstate",
    ("POST", "/v1/officials/{official_id}/revoke"): "officials revoke",
    ("POST", "/v1/officials/{official_id}/tokens"): "officials token",
    ("GET", "/v1/items"): "items list",
    ("POST", "/v1/items"): "items originate",
    ("GET", "/v1/items/{item_id}"): "items show",
    ("GET", "/v1/items/{item_id}/content"): "items read",
    ("POST", "/v1/items/{item_id}/copies"): "items copy",
    ("POST", "/v1/items/{item_id}/destroy"): "items destroy",
    ("POST", "/v1/items/{item_id}/reclassify"): "items reclassify",
    ("GET", "/v1/items/{item_id}/history"): "items history",
    ("POST", "/v1/items/{item_id}/release"): "items release",
    ("POST", "/v1/releases"): "items release-many",
    ("POST", "/v1/items/{item_id}/disclose"): "items disclose",
    ("POST", "/v1/items/{item_id}/recall"): "items recall",
    ("POST", "/v1/items/{item_id}/compromise"): "items compromise",
    ("POST", "/v1/items/{item_id}/consent-requests"): "consents request",
    ("GET", "/v1/consents"): "consents list",
    ("POST", "/v1/consents"): "consents standing",
    ("POST", "/v1/consents/{consent_id}/grant"): "consents grant",
    ("POST", "/v1/consents/{consent_id}/refuse"): "consents refuse",
    ("GET", "/v1/reports"): "reports list",
    ("POST", "/v1/reports/{report_id}/result"): "reports result",
    ("GET", "/v1/outbox"): "outbox",
    ("GET", "/v1/inbox"): "inbox",
    ("GET", "/v1/audit/entries"): "audit entries",
    ("GET", "/v1/audit/verify"): "audit verify",
    ("POST", "/v1/audit/checkpoints"): "audit checkpoint",
    ("POST", "/v1/audit/checkpoints/exchange"): "audit exchange",
    ("POST", "/v1/feed/tracks"): "feed post",
    ("GET", "/v1/feed/streams"): "feed streams",
    ("GET", "/v1/items/{item_id}/stanag4778"): "items export-4778",
    ("POST", "/v1/items/stanag4778"): "items import-4778",
    ("GET", "/v1/feed/streams/{stream}/geojson"): "feed export",
    ("GET", "/v1/feed/streams/{stream}/kml"): "feed export",
}
LONG_RUNNING = {"serve", "demo"}  # they run until stopped and print a log, not a result


def api_operations(tmp_path: Path) -> set[tuple[str, str]]:
    node = unchecked_node(Settings(party="KOR", name="coverage", node_id="KOR-coverage", data_dir=tmp_path))
    try:
        document = create_app(node).openapi()
    finally:
        node.close()
    return {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}


def leaf_commands() -> dict[str, Any]:
    """Every command that runs, by its path (`items release`); Typer's own click types, read by their shape."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: str) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is not None:
            for name, sub in subcommands.items():
                walk(sub, f"{path} {name}".strip())
        else:
            found[path] = command

    walk(typer.main.get_command(app), "")
    return found


def test_every_api_operation_has_its_cli_command(tmp_path: Path) -> None:
    operations = api_operations(tmp_path)
    assert operations, "the OpenAPI document lists no operation"
    missing = sorted(f"{method} {path}" for method, path in operations - COMMANDS.keys())
    assert not missing, f"API operations without a CLI command (add one, and name it in COMMANDS): {missing}"
    gone = sorted(f"{method} {path}" for method, path in COMMANDS.keys() - operations)
    assert not gone, f"COMMANDS names operations the API no longer has: {gone}"
    commands = leaf_commands()
    assert not {c for c in COMMANDS.values() if c not in commands}


def test_every_command_answers_json() -> None:
    without = sorted(path for path, command in leaf_commands().items()
                     if path not in LONG_RUNNING and not any("--json" in p.opts for p in command.params))
    assert not without, f"commands without --json: {without}"


def test_help_imports_only_typer_and_the_command_modules() -> None:
    probe = ("import sys, json, typer.main\n"
             "from gsomia.cli.main import app\n"
             "typer.main.get_command(app)\n"
             "print(json.dumps(sorted(sys.modules)))\n")
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                       check=True).stdout)
    heavy = {"sqlalchemy", "fastapi", "uvicorn", "pydantic", "pydantic_settings", "cryptography", "rich", "httpx",
             "aiohttp", "websockets", "alembic", "cbor2", "gsomia.services", "gsomia.storage", "gsomia.crypto",
             "gsomia.domain", "gsomia.config"}
    assert not {m for m in loaded if m in heavy or m.split(".")[0] in heavy}
