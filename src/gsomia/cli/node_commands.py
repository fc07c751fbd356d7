"""`gsomia init`, `migrate`, `health` and `whoami`: the node itself, and who acts on it.

`gsomia init` leaves a complete node: data directory (0700), database at the newest schema, key store in
DATA/keys (private keys encrypted under the passphrase from --passphrase-file or GSOMIA_KEY_PASSPHRASE[_FILE];
without one it refuses, exit 2, rather than write keys in clear), config file and the bootstrap security
officer, whose token it prints once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gsomia.cli.options import EXIT_UNAVAILABLE, DataOption, JsonOption

Port = Annotated[int | None, typer.Option(min=1, max=65535, help="Default: the settings' default (see README).")]


def init(
    party: Annotated[str, typer.Option(help="The node's party: KOR, JPN or USA.")],
    name: Annotated[str, typer.Option(help="The node's name, e.g. 'MND Seoul'.")],
    data: DataOption,
    officer_name: Annotated[str, typer.Option(help="The first security officer's name.")] = "Security Officer",
    officer_clearance: Annotated[str | None, typer.Option(help="e.g. KOR:I (default: the top level).")] = None,
    officer_expires: Annotated[str | None, typer.Option(help="Clearance expiry, ISO 8601.")] = None,
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL (default: SQLite in --data).")] = None,
    host: Annotated[str | None, typer.Option(help="Where `gsomia serve` listens (default 127.0.0.1).")] = None,
    api_port: Port = None, peer_port: Port = None, feed_port: Port = None,
    passphrase_file: Annotated[Path | None, typer.Option(
        help="File holding the key passphrase (default: GSOMIA_KEY_PASSPHRASE or GSOMIA_KEY_PASSPHRASE_FILE).",
    )] = None,
    tls_name: Annotated[list[str] | None, typer.Option(
        help="A host name or address partners reach this node by (repeatable): put in its TLS certificate "
             "besides localhost and 127.0.0.1.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a node: data directory, database at head, encrypted keys (0700), config, first security officer
    (its token is printed once, on the last line)."""
    import secrets

    from gsomia.cli.node import clean_errors, parse_time
    from gsomia.cli.output import fail, out, print_json
    from gsomia.config import CONFIG_FILE, Settings, write_settings
    from gsomia.services import officials, runtime
    from gsomia.services.context import load_schemes

    expires = parse_time(officer_expires, "--officer-expires")
    where = {key: value for key, value in (("host", host), ("api_port", api_port), ("peer_port", peer_port),
                                           ("feed_port", feed_port)) if value is not None}
    with clean_errors():
        schemes = load_schemes()
        party = schemes.require_party(party.strip().upper())
        if (data / CONFIG_FILE).exists():
            fail(f"{data / CONFIG_FILE} exists: this directory already holds a node")
        passphrase = runtime.key_passphrase(passphrase_file)  # none: refuse before anything is created
        settings = Settings(party=party, name=name, node_id=f"{party}-{secrets.token_hex(4)}", data_dir=data,
                            database_url=database_url).model_copy(update=where)
        if len({settings.api_port, settings.peer_port, settings.feed_port}) < 3:
            fail("the API, peer and feed ports must differ")
        node = runtime.unchecked_node(settings)  # lazy: nothing is created until the first connection
        try:
            # Validate the officer first, so that bad input leaves nothing behind.
            officials.check_bootstrap(node, name=officer_name, clearance=officer_clearance, expires=expires)
            data.mkdir(mode=0o700, parents=True, exist_ok=True)
            # DATA/keys, 0700, keys 0600 encrypted
            ring = runtime.create_keys(settings, passphrase=passphrase, tls_names=tuple(tls_name or ()))
            runtime.create_database(node)
            record, issued = officials.bootstrap(node, name=officer_name, clearance=officer_clearance,
                                                 expires=expires)
        finally:
            node.close()
        write_settings(settings.model_copy(update={"local_admin": record.official.id}))
    if as_json:
        print_json({"node_id": settings.node_id, "party": party, "name": name, "data": str(data),
                    "signing_key": ring.current.kid.hex(), "officer": record.official.id, "token": issued.token})
        return
    console = out()
    console.print(f"node {settings.node_id} ({party}, {name}) created in {data}; signing key {ring.current.kid.hex()}",
                  markup=False)
    console.print(f"security officer {record.official.id} ({record.official.name}), token shown once:", markup=False)
    sys.stdout.write(issued.token + "\n")


def migrate(data: DataOption, as_json: JsonOption = False) -> None:
    """Bring the node's database to this release's schema (Alembic; back it up first)."""
    from gsomia.cli.node import clean_errors
    from gsomia.cli.output import out, print_json
    from gsomia.config import load_settings
    from gsomia.services import runtime

    with clean_errors():
        settings = load_settings(data)
        node = runtime.unchecked_node(settings)
        try:
            runtime.create_database(node)
            runtime.check_database(node)
        finally:
            node.close()
    if as_json:
        print_json({"node_id": settings.node_id, "schema_revision": runtime.schema_revision()})
        return
    out().print(f"database of {settings.node_id} is at the newest schema")


def whoami(data: DataOption, as_json: JsonOption = False) -> None:
    """The official this command acts as (GSOMIA_TOKEN's, else the local security officer), as the register
    holds them (R6.e, R7.2)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_fields
    from gsomia.domain.timeutil import format_instant

    with session(data) as (_, actor):
        o = actor.official
    print_fields({"id": o.id, "name": o.name, "party": o.party, "clearance": str(o.clearance),
                  "expires": format_instant(o.clearance_expires) if o.clearance_expires else None,
                  "need_to_know": sorted(o.need_to_know), "roles": sorted(r.value for r in o.roles),
                  "status": o.status.value, "via": actor.via}, as_json)


def health(data: DataOption,
           wait: Annotated[float, typer.Option(min=0, help="Wait up to this many seconds for `gsomia serve`.")] = 0.0,
           as_json: JsonOption = False) -> None:
    """The node's database (reachable, at this release's schema) and whether `gsomia serve` is up: its
    officials' API and feed answer a TLS handshake with this node's own certificate. Exit 1 if not serving."""
    import time

    from gsomia.cli.node import opened
    from gsomia.cli.output import fail, out, print_json
    from gsomia.cli.served import serving
    from gsomia.services import runtime

    with opened(data) as node:  # fails here (exit 1) if the database is unreachable or behind
        settings, partners = node.settings, sorted(node.partners.by_party)
    deadline = time.monotonic() + wait
    while True:
        ports = {"api": serving(settings, settings.api_port), "feed": serving(settings, settings.feed_port)}
        if all(ports.values()) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    schema = runtime.schema_revision()
    report = {"node_id": settings.node_id, "party": settings.party, "database": "ok", "schema_revision": schema,
              "partners": partners, "serving": all(ports.values()),
              "api": f"{settings.host}:{settings.api_port}", "feed": f"{settings.host}:{settings.feed_port}"}
    if as_json:
        print_json(report)
    else:
        out().print(f"{settings.node_id} ({settings.party}): database ok (schema {schema}); partners: "
                    f"{', '.join(partners) or 'none'}", markup=False)
    if not report["serving"]:
        down = ", ".join(f"{name} port {getattr(settings, name + '_port')}" for name, up in ports.items() if not up)
        fail(f"not serving ({down}): start `gsomia serve --data {data}`", EXIT_UNAVAILABLE)
    if not as_json:
        out().print(f"serving: officials' API on {settings.host}:{settings.api_port}, feed on "
                    f"{settings.host}:{settings.feed_port}", markup=False)
