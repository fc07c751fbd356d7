"""`gsomia cot enrol|withdraw|list`: who may connect to the node's Cursor-on-Target / TAK endpoint.

The endpoint (`cot_port` in gsomia.toml; `gsomia serve` starts it) admits only TLS client certificates the
security officer enrolled, each pinned to one official of the register (a sensor is an official with the
posting role): services/cot_clients.py. A running node trusts a new enrolment within two seconds and
refuses a withdrawn one at the next connection.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gsomia.cli.options import DataOption, JsonOption, Reason, WideOption, group

if TYPE_CHECKING:
    from gsomia.services.cot_clients import Enrolment

app = group("The CoT / TAK endpoint's enrolled client certificates (officials and sensors).")


def _json(e: Enrolment) -> dict[str, object]:
    from gsomia.domain.timeutil import format_instant

    return {"fingerprint": e.fingerprint, "official_id": e.official_id, "subject": e.subject,
            "enrolled_at": format_instant(e.enrolled_at)}


@app.command()
def enrol(data: DataOption, official_id: str,
          cert: Annotated[Path, typer.Option("--cert", help="The client's certificate, PEM.")], reason: Reason,
          as_json: JsonOption = False) -> None:
    """Enrol a TAK client's TLS certificate for an official: it may then connect to the CoT endpoint as them."""
    from gsomia.cli.node import session
    from gsomia.cli.output import fail, print_fields
    from gsomia.services import cot_clients

    try:
        pem = cert.read_bytes()[: cot_clients.MAX_CERTIFICATE_BYTES + 1]
    except OSError as bad:
        fail(f"--cert: {bad.strerror}: {cert}")
    with session(data) as (node, actor):
        enrolment = cot_clients.enrol(node, actor, official_id, pem, reason=reason)
    print_fields(_json(enrolment), as_json)


@app.command()
def withdraw(data: DataOption, fingerprint: str, reason: Reason, as_json: JsonOption = False) -> None:
    """Withdraw an enrolled certificate (by its SHA-256 fingerprint): refused from the next connection on."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_fields
    from gsomia.services import cot_clients

    with session(data) as (node, actor):
        enrolment = cot_clients.withdraw(node, actor, fingerprint, reason=reason)
    print_fields(_json(enrolment), as_json)


@app.command("list")
def list_command(data: DataOption, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """The enrolled certificates and whose each is."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json, print_table
    from gsomia.services import cot_clients

    with session(data) as (node, actor):
        rows = [_json(e) for e in cot_clients.listing(node, actor)]
    if as_json:
        print_json(rows)
        return
    print_table(("fingerprint", "official", "subject", "enrolled"),
                [(r["fingerprint"], r["official_id"], r["subject"], r["enrolled_at"]) for r in rows],
                ids=("fingerprint", "official"), wide=wide, empty="no certificate enrolled")
