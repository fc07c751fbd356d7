"""`gsomia decide`: ask the policy. One JSON request, or JSON Lines, on stdin; decisions on stdout."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from gsomia.cli.agreements import NodeOption, catalog_of
from gsomia.cli.common import fail
from gsomia.domain.catalog import Catalog
from gsomia.domain.errors import DomainError
from gsomia.domain.parsing import request_from_dict
from gsomia.domain.policy import decide


def decide_command(data: NodeOption = None) -> None:
    """Would this be allowed, and why? Reads a request (or JSON Lines of them) and prints each decision:
    under the shipped data, or (--data DIR) as that node's agreement events make the agreements.

    Exit code 0 when every request was read (allowed or not), 2 when input is malformed.
    """
    text = sys.stdin.read()
    if not text.strip():
        raise fail("no request on standard input (expected a JSON object or JSON Lines)")
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError:
        documents = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as bad:
                raise fail(f"line {number} is not JSON: {bad.msg} (column {bad.colno})") from None
    with catalog_of(data) as the_catalog:
        _decide_all(documents, the_catalog)


def _decide_all(documents: list[Any], the_catalog: Catalog) -> None:
    requests = []
    for number, document in enumerate(documents, start=1):
        try:
            requests.append(request_from_dict(document, the_catalog))
        except DomainError as bad:
            where = f"request {number}: " if len(documents) > 1 else ""
            raise fail(f"{where}{bad}") from None
    out = sys.stdout
    for request in requests:
        out.write(json.dumps(decide(request, the_catalog).to_dict(), ensure_ascii=False) + "\n")
    raise typer.Exit(0)
