"""`gsomia decide`: ask the policy. One JSON request, or JSON Lines, on stdin; decisions on stdout."""

from __future__ import annotations

from gsomia.cli.agreements import NodeOption
from gsomia.cli.options import JsonOption


def decide_command(data: NodeOption = None, as_json: JsonOption = False) -> None:
    """Would this be allowed, and why? Reads a request (or JSON Lines of them) and prints each decision as a
    JSON line (always: --json changes nothing): under the shipped data, or (--data DIR) as that node's
    agreement events make the agreements. A what-if: nothing is recorded.

    Exit code 0 when every request was read (allowed or not), 2 when input is malformed.
    """
    import json
    import sys

    from gsomia.cli.agreement_views import catalog_of
    from gsomia.cli.output import fail
    from gsomia.domain.errors import DomainError
    from gsomia.domain.parsing import request_from_dict
    from gsomia.domain.policy import decide

    text = sys.stdin.read()
    if not text.strip():
        fail("no request on standard input (expected a JSON object or JSON Lines)")
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
                fail(f"line {number} is not JSON: {bad.msg} (column {bad.colno})")
    with catalog_of(data) as the_catalog:
        requests = []
        for number, document in enumerate(documents, start=1):
            try:
                requests.append(request_from_dict(document, the_catalog))
            except DomainError as bad:
                where = f"request {number}: " if len(documents) > 1 else ""
                fail(f"{where}{bad}")
        for request in requests:
            sys.stdout.write(json.dumps(decide(request, the_catalog).to_dict(), ensure_ascii=False) + "\n")
