"""Cross-border actions: `gsomia items release|release-many|disclose|recall|compromise`, `gsomia consents …`
and `gsomia reports …`.

Each is one use case of services.exchange, as the API's routes call them: the policy decides, the decision is
audited, and the message for the partner is written to the outbox, in one transaction. A running `gsomia
serve` on the same data directory delivers it (its sender reads the outbox within 0.2 s of a write made
beside it); `--wait S` waits up to S seconds for the partner's signed answer. The key passphrase is needed
(messages are sealed to the partner and signed). Exit codes: options.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gsomia.cli.items import app as items_app
from gsomia.cli.options import DataOption, JsonOption, WideOption, group

if TYPE_CHECKING:
    from gsomia.services.context import Actor, Node
    from gsomia.services.listings import CompromiseReport, ConsentRecord

consents_app = group("Written consents: requested of the originator, granted or refused, standing (R6.a, T5).")
reports_app = group("Compromise reports made and received, and their results (R17.1).")

Party = Annotated[str, typer.Option("--to", help="The partner's party code, e.g. JPN.")]
Via = Annotated[str | None, typer.Option("--via", help="The hub, for paths that must go through one (T4), e.g. USA.")]
Wait = Annotated[float, typer.Option("--wait", min=0, help="Seconds to wait for the partner's signed answer "
                                                          "(0: do not wait).")]
RELEASES_PER_TRANSACTION = 200  # as POST /v1/releases takes them


@items_app.command()
def release(data: DataOption, item_id: str, to: Party, via: Via = None, wait: Wait = 0.0,
            as_json: JsonOption = False) -> None:
    """Release an item of this party to a partner, directly or through a hub with written consent (R6.a, T4,
    T5): decided, audited and queued for delivery."""
    from gsomia.cli.node import session
    from gsomia.services import exchange

    with session(data, keys=True) as (node, actor):
        message_id = exchange.release(node, actor, item_id, to.upper(), via=via.upper() if via else None)
        _queued(node, actor, message_id, f"release of {item_id} to {to.upper()}" + (f" via {via.upper()}" if via
                                                                                      else ""), wait, as_json)


@items_app.command("release-many")
def release_many(data: DataOption, file: Annotated[Path, typer.Argument(
        help="JSON Lines (or a JSON list) of {item_id, to, via?}; - for standard input.")],
        as_json: JsonOption = False, wide: WideOption = False) -> None:
    """Release several items: each is decided, audited and queued as a single release would be, and a refused or
    unknown one stops only itself. Exit 0 if all were queued, else the code the first one that was not had."""
    from gsomia.cli.node import clean_errors, session
    from gsomia.cli.output import print_json, print_table, progress
    from gsomia.services import exchange

    wanted = _releases(file)
    outcomes: list[str | Exception] = []
    with session(data, keys=True) as (node, actor), \
            progress("releasing", len(wanted), shown=len(wanted) > RELEASES_PER_TRANSACTION) as advance:
        for start in range(0, len(wanted), RELEASES_PER_TRANSACTION):
            chunk = wanted[start:start + RELEASES_PER_TRANSACTION]
            outcomes += exchange.release_many(node, actor, chunk)
            advance(len(chunk))
    rows = [{"item_id": r.item_id, "to": r.to, "via": r.via,
             "message_id": o if isinstance(o, str) else None,
             "error": None if isinstance(o, str) else _error_json(o)} for r, o in zip(wanted, outcomes, strict=True)]
    if as_json:
        print_json({"queued": sum(isinstance(o, str) for o in outcomes), "outcomes": rows})
    else:
        print_table(("item", "to", "via", "message", "refused or failed"),
                    [(r["item_id"], r["to"], r["via"], r["message_id"], _error_text(r["error"])) for r in rows],
                    ids=("item", "message"), wide=wide)
    first_failure = next((o for o in outcomes if not isinstance(o, str)), None)
    if first_failure is not None:
        with clean_errors():
            raise first_failure


def _releases(file: Path) -> list[Any]:
    """The releases to make, all checked before any is: a malformed line writes nothing."""
    import re

    from gsomia.cli.output import fail, read_documents
    from gsomia.services.exchange import Release

    party = re.compile(r"[A-Za-z]{3}")
    wanted = []
    for number, d in enumerate(read_documents(file), start=1):
        if not isinstance(d, dict) or not isinstance(d.get("item_id"), str) or not d["item_id"].strip() \
                or not party.fullmatch(str(d.get("to") or "")) or (d.get("via") and not party.fullmatch(str(d["via"]))):
            fail(f"{file}: release {number} is not {{\"item_id\": ID, \"to\": PARTY, \"via\": PARTY (optional)}}")
        wanted.append(Release(d["item_id"].strip(), str(d["to"]).upper(), str(d["via"]).upper() if d.get("via")
                              else None))
    if not wanted:
        fail(f"{file} names no release")
    return wanted


def _error_json(error: Exception) -> dict[str, Any]:
    return {"message": str(error), "rules": list(getattr(error, "rules", ())),
            "reasons": list(getattr(error, "reasons", ()))}


def _error_text(error: dict[str, Any] | None) -> str:
    if error is None:
        return ""
    rules = f"({', '.join(error['rules'])}) " if error["rules"] else ""
    return rules + "; ".join(error["reasons"] or [error["message"]])


@items_app.command()
def disclose(data: DataOption, item_id: str, to: Party, wait: Wait = 0.0, as_json: JsonOption = False) -> None:
    """Pass a partner's item held here to a third party: refused without the originator's written consent
    (R6.a); ask for it with `gsomia consents request`."""
    from gsomia.cli.node import session
    from gsomia.services import exchange

    with session(data, keys=True) as (node, actor):
        message_id = exchange.disclose(node, actor, item_id, to.upper())
        _queued(node, actor, message_id, f"disclosure of {item_id} to {to.upper()}", wait, as_json)


def _queued(node: Node, actor: Actor, message_id: str, what: str, wait: float, as_json: bool) -> None:
    """Say what was queued; with `wait`, wait for the partner's answer (bounded) and say what it was."""
    import time

    from gsomia.cli.node import refuse
    from gsomia.cli.options import EXIT_UNAVAILABLE
    from gsomia.cli.output import fail, out, print_json
    from gsomia.services import listings

    message = listings.outbox_message(node, actor, message_id)
    deadline = time.monotonic() + wait
    while wait and message.state == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
        message = listings.outbox_message(node, actor, message_id)
    answer = listings.answer(node, message)
    if as_json:
        print_json({"message_id": message_id, "peer": message.peer, "state": message.state,
                    "rules": list(answer.rules) if answer else [], "reasons": list(answer.reasons) if answer else []})
    else:
        out().print(f"{what}: allowed and queued as {message_id} for {message.peer}")
    if not wait:
        return
    if message.state == "delivered":
        if not as_json:
            out().print(f"{message.peer} accepted it: its signed receipt is recorded against the item (R6.f)")
    elif message.state == "refused":
        refuse(answer.rules if answer else (), answer.reasons if answer else (), f"{message.peer} refused it")
    else:
        fail(f"{message_id} is still pending after {wait:g} s ({message.attempts} attempts"
             f"{'; last: ' + message.last_error if message.last_error else ''}): is `gsomia serve` running on "
             f"{node.settings.data_dir}?", EXIT_UNAVAILABLE)


@items_app.command()
def recall(data: DataOption, item_id: str, reason: Annotated[str, typer.Option(help="Why (R6.h).")],
           as_json: JsonOption = False) -> None:
    """Ask every holder, also those reached through a hub, to return or destroy an item of this party (R6.h)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import out, print_json
    from gsomia.services import exchange

    with session(data, keys=True) as (node, actor):
        holders = exchange.recall(node, actor, item_id, reason)
    if as_json:
        print_json({"item_id": item_id, "holders": holders})
        return
    out().print(f"recall of {item_id} queued for {', '.join(holders) or 'nobody (it was never released)'}")


@items_app.command()
def compromise(data: DataOption, item_id: str,
               description: Annotated[str, typer.Option(help="What happened, as far as known.")],
               as_json: JsonOption = False) -> None:
    """Report an actual or possible loss or compromise of an item: its provider is told at once (R17.1)."""
    from gsomia.cli.node import session
    from gsomia.services import exchange, listings

    with session(data, keys=True) as (node, actor):
        report = listings.report(node, actor, exchange.report_compromise(node, actor, item_id, description))
        _show_report(report, node, as_json)


def _report_json(r: CompromiseReport, node: Node) -> dict[str, Any]:
    return {"id": r.id, "direction": r.direction, "originator": r.originator, "item_ref": r.item_ref,
            "reporter": r.reporter, "description": r.description, "reported_at": r.reported_at,
            "notice_due": r.notice_due, "notified_at": r.notified_at, "result_due": r.result_due,
            "result": r.result, "overdue": r.overdue(node.clock())}


def _show_report(r: CompromiseReport, node: Node, as_json: bool) -> None:
    from gsomia.cli.output import print_fields

    print_fields(_report_json(r, node), as_json)


@reports_app.command("list")
def list_reports(data: DataOption, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """Compromise reports made and received, with overdue notices and results flagged (R17.1)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json, print_table
    from gsomia.services import listings

    with session(data) as (node, actor):
        rows = [_report_json(r, node) for r in listings.reports(node, actor)]
    if as_json:
        print_json(rows)
        return
    print_table(("id", "direction", "item", "reporter", "reported", "result due", "result", "overdue"),
                [(r["id"], r["direction"], r["item_ref"], r["reporter"], r["reported_at"], r["result_due"],
                  r["result"], ", ".join(r["overdue"])) for r in rows], ids=("id", "item"), wide=wide,
                empty="no reports")


@reports_app.command()
def result(data: DataOption, report_id: str,
           text: Annotated[str, typer.Option("--result", help="The investigation's result and the measures taken.")],
           as_json: JsonOption = False) -> None:
    """Send the investigation's result and measures against recurrence to the provider (R17.1)."""
    from gsomia.cli.node import session
    from gsomia.services import exchange, listings

    with session(data, keys=True) as (node, actor):
        exchange.report_result(node, actor, report_id, text)
        _show_report(listings.report(node, actor, report_id), node, as_json)


def _consent_json(c: ConsentRecord) -> dict[str, Any]:
    return {"id": c.id, "by": c.by_party, "to": c.to_party, "item_ref": c.item_ref,
            "topics": list(c.topics) if c.topics is not None else None, "until": c.until,
            "requested_by": c.requested_by, "purpose": c.purpose, "state": c.state, "granted_at": c.granted_at}


@consents_app.command("list")
def list_consents(data: DataOption, state: Annotated[str | None, typer.Option(
        help="requested, granted or refused")] = None, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """Consents asked of us, asked by us, and given (R6.a, T5)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import fail, print_json, print_table
    from gsomia.services import listings

    if state is not None and state not in listings.CONSENT_STATES:
        fail(f"--state: one of {', '.join(listings.CONSENT_STATES)}")
    with session(data) as (node, actor):
        rows = [_consent_json(c) for c in listings.consents(node, actor, state=state)]
    if as_json:
        print_json(rows)
        return
    print_table(("id", "by", "to", "item", "topics", "until", "state", "purpose"),
                [(r["id"], r["by"], r["to"], r["item_ref"], ", ".join(r["topics"] or ()), r["until"], r["state"],
                  r["purpose"]) for r in rows], ids=("id", "item"), wide=wide, empty="no consents")


def _show_consent(c: ConsentRecord, as_json: bool) -> None:
    from gsomia.cli.output import print_fields

    print_fields(_consent_json(c), as_json)


@consents_app.command()
def request(data: DataOption, item_id: str, to: Party,
            purpose: Annotated[str, typer.Option(help="Why the third party needs it.")],
            as_json: JsonOption = False) -> None:
    """Ask the originator of a partner's item for written consent to pass it to a third party (R6.a)."""
    from gsomia.cli.node import session
    from gsomia.services import exchange, listings

    with session(data, keys=True) as (node, actor):
        consent_id = exchange.request_consent(node, actor, item_id, to.upper(), purpose)
        _show_consent(listings.consent(node, actor, consent_id), as_json)


Until = Annotated[str | None, typer.Option(help="ISO 8601: the consent lapses then.")]
Why = Annotated[str, typer.Option(help="Recorded with the answer.")]


@consents_app.command()
def grant(data: DataOption, consent_id: str, until: Until = None, reason: Why = "",
          as_json: JsonOption = False) -> None:
    """Grant a consent asked of this node: signed, for that item and recipient only (R6.a; security officer)."""
    _answer(data, consent_id, True, until, reason, as_json)


@consents_app.command()
def refuse(data: DataOption, consent_id: str, reason: Why = "", as_json: JsonOption = False) -> None:
    """Refuse a consent asked of this node (R6.a; security officer)."""
    _answer(data, consent_id, False, None, reason, as_json)


def _answer(data: Path, consent_id: str, grant: bool, until: str | None, reason: str, as_json: bool) -> None:
    from gsomia.cli.node import parse_time, session
    from gsomia.services import exchange

    until_at = parse_time(until, "--until")
    with session(data, keys=True) as (node, actor):
        answered = exchange.answer_consent(node, actor, consent_id, grant=grant, until=until_at, reason=reason)
    _show_consent(answered, as_json)


@consents_app.command()
def standing(data: DataOption, to: Party,
             topic: Annotated[list[str], typer.Option("--topic", help="A topic it covers (repeat).")],
             purpose: Annotated[str, typer.Option(help="What it is for.")], until: Until = None,
             as_json: JsonOption = False) -> None:
    """Give a standing written consent for topics: e.g. the hub may pass our items to --to (T5; security officer)."""
    from gsomia.cli.node import parse_time, session
    from gsomia.services import exchange

    until_at = parse_time(until, "--until")
    with session(data, keys=True) as (node, actor):
        given = exchange.grant_standing_consent(node, actor, to.upper(), topic, until=until_at, purpose=purpose)
    _show_consent(given, as_json)
