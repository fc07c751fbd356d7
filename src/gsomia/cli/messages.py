"""`gsomia outbox` and `gsomia inbox`: the messages exchanged with partners and how each stands.

The outbox is what this node sends (written by the use cases, delivered by a running `gsomia serve`):
pending (still being delivered: attempts, last error, flagged when failing too long), delivered (the
partner's signed receipt) or refused (the partner's signed refusal, with its rules and reasons). The inbox
is what partners sent here and the answer each was given: accepted or refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import typer

from gsomia.cli.options import DataOption, JsonOption, WideOption

Limit = Annotated[int, typer.Option(min=1, max=1000, help="At most this many, newest first.")]


def outbox(data: DataOption,
           state: Annotated[str | None, typer.Option(help="pending, delivered or refused")] = None,
           limit: Limit = 200, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """Messages to partners, newest first, and how each one's delivery stands."""
    from gsomia.cli.node import session
    from gsomia.cli.output import fail, print_json, print_table
    from gsomia.services import delivery, listings

    if state not in (None, "pending", "delivered", "refused"):
        fail("--state: one of pending, delivered, refused")
    with session(data) as (node, actor):
        messages = delivery.outbox(node, actor, state=state, limit=limit)
        answers = {m.message_id: listings.answer(node, m) for m in messages if m.state != "pending"}
    rows = []
    for m in messages:
        answer = answers.get(m.message_id)
        rows.append({"message_id": m.message_id, "peer": m.peer, "kind": m.kind, "item_id": m.item_id,
                     "state": m.state, "attempts": m.attempts, "last_error": m.last_error, "created_at": m.created_at,
                     "delivered_at": m.delivered_at, "flagged_at": m.flagged_at,
                     "rules": list(answer.rules) if answer else [], "reasons": list(answer.reasons) if answer else []})
    if as_json:
        print_json(rows)
        return
    print_table(("message", "to", "kind", "item", "state", "attempts", "since", "answer or last error"),
                [(r["message_id"], r["peer"], r["kind"], r["item_id"],
                  f"{r['state']} (flagged)" if r["flagged_at"] else r["state"], r["attempts"],
                  r["delivered_at"] or r["created_at"], _answer_text(r)) for r in rows],
                ids=("message", "item"), wide=wide, empty="the outbox is empty")


def _answer_text(row: Mapping[str, object]) -> str:
    rules, reasons = row["rules"], row["reasons"]
    if row["state"] == "pending":
        return str(row["last_error"] or "")
    cited = f"({', '.join(rules)}) " if isinstance(rules, list) and rules else ""
    return cited + ("; ".join(reasons) if isinstance(reasons, list) else "")


def inbox(data: DataOption, limit: Limit = 200, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """Partners' messages handled here, newest first, with the answer each was given (accepted or refused)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json, print_table
    from gsomia.services import listings

    with session(data) as (node, actor):
        entries = listings.inbox(node, actor, limit=limit)
    if as_json:
        print_json([{"message_id": e.message_id, "peer": e.peer, "kind": e.kind, "received_at": e.received_at,
                     "outcome": e.outcome} for e in entries])
        return
    print_table(("message", "from", "kind", "received", "outcome"),
                [(e.message_id, e.peer, e.kind, e.received_at, e.outcome) for e in entries],
                ids=("message",), wide=wide, empty="the inbox is empty")
