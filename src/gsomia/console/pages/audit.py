"""The audit trail (R7.5) in the browser: browse it page by page, verify it with a progress bar (the walk
streamed to the page as JSON lines while it runs), export it for a partner or an inspector."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timezone
from typing import IO, Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from gsomia.console import render
from gsomia.console.session import NodeDep, SessionDep, page_router
from gsomia.services import audit, console_sessions, exchange, oversight, signing
from gsomia.services.audit_chain import VerifyReport
from gsomia.services.console_sessions import SignedIn
from gsomia.services.context import Node
from gsomia.services.errors import InvalidInput

router = page_router()
PAGE = 50
PROGRESS = "application/x-ndjson"


@router.get("/audit", response_class=HTMLResponse)
def browse(request: Request, node: NodeDep, session: SessionDep,
           since: Annotated[int, Query(ge=0, le=2**62)] = 0) -> Response:
    total = audit.entry_count(node)
    if since == 0 and total > PAGE and "since" not in request.query_params:
        since = total - PAGE  # the newest page first
    entries, cursor = audit.entries_after(node, session.actor, since, PAGE)
    named = oversight.labels(node, [(None, e.subject) for e in entries if e.subject])
    return render.page(request, session, "audit.html", title="Audit trail", section="audit", entries=entries,
                       labels=named,
                       next_since=cursor, previous_since=max(0, since - PAGE) if since else None, total=total)


def _verify(node: Node, session: SignedIn, on_progress: Callable[[int], None] | None = None) -> VerifyReport:
    public = signing.node_public_key(node.settings.effective_keys_dir)
    check = signing.signature_check(public) if public else None
    return audit.verify_store(node, session.actor, check_signature=check, on_progress=on_progress)


@router.post("/audit/verify")
async def verify(request: Request, node: NodeDep, session: SessionDep) -> Response:
    """With the console's script: JSON lines ({"checked", "total"} as the walk goes, then {"html"} of the
    report). Without it: the report's page when the walk is done."""
    if PROGRESS not in request.headers.get("accept", ""):
        report = await run_in_threadpool(_verify, node, session)
        return render.page(request, session, "verify.html", title="Audit verified", section="audit", report=report)
    total = audit.entry_count(node)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    def progress(checked: int) -> None:
        step: dict[str, object] = {"checked": checked, "total": total}
        loop.call_soon_threadsafe(queue.put_nowait, step)

    async def lines() -> AsyncIterator[bytes]:
        walk = asyncio.ensure_future(run_in_threadpool(_verify, node, session, progress))
        yield (json.dumps({"checked": 0, "total": total}) + "\n").encode()
        while not (walk.done() and queue.empty()):
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, walk}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield (json.dumps(getter.result()) + "\n").encode()
            else:
                getter.cancel()
        html = render.ENV.get_template("verify_report.html").render(report=walk.result(), base=render.BASE)
        yield (json.dumps({"done": True, "ok": walk.result().ok, "html": html}) + "\n").encode()

    return StreamingResponse(lines(), media_type=PROGRESS)


@router.post("/audit/checkpoint")
async def exchange_checkpoint(node: NodeDep, session: SessionDep) -> Response:
    """Sign the audit head and send it to every partner, as `POST /v1/audit/checkpoints/exchange` does: each
    can later show what the other held (a chain alone cannot show its newest entries were cut off)."""
    count = await node.write(exchange.exchange_checkpoint, node, session.actor)
    partners = ", ".join(sorted(node.partners.by_party)) or "nobody"
    await node.write(console_sessions.flash, node, session, f"Checkpoint at {count} entries signed and sent to"
                                                            f" {partners}.")
    return render.redirect("/")


def _export(node: Node, session: SignedIn, since: datetime | None) -> IO[str]:
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+", encoding="utf-8")  # noqa: SIM115
    audit.export(node, session.actor, out, since=since)
    out.seek(0)
    return out


def _chunks(spooled: IO[str]) -> Iterator[bytes]:
    with spooled:
        while chunk := spooled.read(64 * 1024):
            yield chunk.encode("utf-8")


@router.post("/audit/export")
def export(node: NodeDep, session: SessionDep, since: Annotated[str, Form(max_length=10)] = "") -> Response:
    """JSON Lines, as `gsomia audit export` writes: the export is itself audited (services.audit.export)."""
    try:
        start = datetime.fromisoformat(since).replace(tzinfo=timezone.utc) if since.strip() else None
    except ValueError:
        raise InvalidInput(f"{since!r} is not a date (YYYY-MM-DD)") from None
    name = f"audit-{node.party}-{node.clock():%Y%m%d}.jsonl"
    return StreamingResponse(_chunks(_export(node, session, start)), media_type="application/jsonl",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
