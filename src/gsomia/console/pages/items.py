"""The registry (R6.f) in the browser: the inventory with filters; an item's page (banner, dual marking
R4.4, custody history, copies, what the official may do); originate (a file upload), read (audited), copy,
reclassify, destroy with its signed certificate shown and downloadable.

Every action is the use case the API calls (`services.handling`, `services.visibility`); what the page
offers is `services.affordances` (the policy's what-ifs); a refusal is the policy's, with its rules.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from gsomia.console import render
from gsomia.console.session import NodeDep, SessionDep, page_router
from gsomia.domain.errors import DomainError
from gsomia.domain.labels import Label
from gsomia.domain.parsing import label_from_dict
from gsomia.edge.limits import MAX_ITEM_CONTENT
from gsomia.services import affordances, console_sessions, handling, oversight, visibility
from gsomia.services.errors import InvalidInput
from gsomia.services.exchange_common import item_ref

router = page_router()

MAX_UPLOAD = MAX_ITEM_CONTENT  # the same bound as the API's and the edge's
Text = Annotated[str, Form(max_length=2000)]
OptionalText = Annotated[str, Form(max_length=2000)]
ItemState = Annotated[str | None, Query(pattern="^(|held|released|destroyed)$")]
Party = Annotated[str | None, Query(max_length=8)]


def _topics(text: str) -> list[str]:
    return [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]


@router.get("/items", response_class=HTMLResponse)
def inventory(request: Request, node: NodeDep, session: SessionDep, state: ItemState = None,
              originator: Party = None, topic: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    found = visibility.visible_items(node, session.actor, state=state or None, originator=originator or None,
                                     topic=topic or None, limit=500)
    labels = [Label.from_canonical(i.label_bytes, node.schemes) for i in found]
    return render.page(request, session, "items.html", title="Items", section="items", labels=labels,
                       items=list(zip(found, labels, strict=True)), filters={"state": state or "",
                       "originator": originator or "", "topic": topic or ""},
                       parties=sorted(node.schemes.parties), schemes=node.schemes,
                       everything=visibility.sees_everything(session.actor))


@router.get("/items/new", response_class=HTMLResponse)
def originate_form(request: Request, node: NodeDep, session: SessionDep) -> Response:
    return render.page(request, session, "originate.html", title="Originate an item", section="items",
                       levels=node.schemes.scheme(node.party).levels, parties=sorted(node.schemes.parties))


@router.post("/items")
async def originate(node: NodeDep, session: SessionDep, content: Annotated[UploadFile, File()],
                    classification: Annotated[str, Form(max_length=50)], purpose: Text,
                    topics: Annotated[str, Form(max_length=2000)],
                    releasable_to: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI's form default
                    location: Annotated[str, Form(max_length=200)] = "registry",
                    rights_note: OptionalText = "") -> Response:
    data = await content.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InvalidInput(f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MiB")
    if not data:
        raise InvalidInput("the file is empty: choose the item's content")
    try:
        label = label_from_dict({"originator": node.party, "classification": classification,
                                 "releasable_to": releasable_to, "topics": _topics(topics), "purpose": purpose,
                                 "rights_note": rights_note}, node.schemes, node.clock())
    except DomainError as bad:
        raise InvalidInput(str(bad)) from None
    item = await node.write(handling.originate, node, session.actor, label, data, location=location)
    await node.write(console_sessions.flash, node, session,
                     f"Originated {item.id} ({content.filename or 'upload'}, {len(data)} bytes), sealed at rest.")
    return render.redirect(f"/items/{item.id}")


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, node: NodeDep, session: SessionDep, item_id: str) -> Response:
    item = visibility.visible_item(node, session.actor, item_id, "item.show")
    label = Label.from_canonical(item.label_bytes, node.schemes)
    history = visibility.visible_history(node, session.actor, item_id)
    copies = oversight.copies(node, session.actor, item_id)
    return render.page(request, session, "item.html", title=f"Item {item.id}", section="items", labels=[label],
                       item=item, label=label, ref=item_ref(item), history=history, copies=copies,
                       schemes=node.schemes, actions=affordances.item_actions(node, session.actor, item),
                       levels=node.schemes.scheme(node.party).levels)


@router.post("/items/{item_id}/read")
def read(request: Request, node: NodeDep, session: SessionDep, item_id: str,
         purpose: Annotated[str, Form(max_length=500)] = "",
         download: Annotated[str, Form(max_length=5)] = "") -> Response:
    """The content, if the policy lets this official read it for this purpose (R7.2, R6.b); audited."""
    item, plaintext = handling.read(node, session.actor, item_id, purpose=purpose.strip() or None)
    label = Label.from_canonical(item.label_bytes, node.schemes)
    if download:
        return Response(plaintext, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{item.id}.bin"'})
    try:
        text: str | None = plaintext.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return render.page(request, session, "read.html", title=f"Read {item.id}", section="items", labels=[label],
                       item=item, label=label, text=text, size=len(plaintext), schemes=node.schemes,
                       purpose=purpose)


@router.post("/items/{item_id}/copy")
async def copy(node: NodeDep, session: SessionDep, item_id: str, reason: Text,
               translate: Annotated[str, Form(max_length=5)] = "") -> Response:
    made = await node.write(handling.copy, node, session.actor, item_id, translate=bool(translate), reason=reason)
    await node.write(console_sessions.flash, node, session, f"{made.origin.capitalize()} {made.id} made of {item_id}"
                                                            " (R4.5: same markings).")
    return render.redirect(f"/items/{made.id}")


@router.post("/items/{item_id}/reclassify")
async def reclassify(node: NodeDep, session: SessionDep, item_id: str,
                     classification: Annotated[str, Form(max_length=50)], reason: Text) -> Response:
    new = node.schemes.parse(classification)
    item = await node.write(handling.reclassify, node, session.actor, item_id, new, reason=reason)
    await node.write(console_sessions.flash, node, session, f"{item_id} is now {item.classification}; every holder"
                                                            " is told in writing (R6.g).")
    return render.redirect(f"/items/{item_id}")


@router.post("/items/{item_id}/destroy")
def destroy(node: NodeDep, session: SessionDep, item_id: str, method: Text, reason: Text) -> Response:
    """Art. 13 / R6.h. Not on the writer: the erased pages are reclaimed after the commit (handling.destroy)."""
    handling.destroy(node, session.actor, item_id, method=method, reason=reason)
    console_sessions.flash(node, session, f"{item_id} destroyed; its signed certificate is below.")
    return render.redirect(f"/items/{item_id}/certificate")


@router.get("/items/{item_id}/certificate", response_class=HTMLResponse)
def certificate(request: Request, node: NodeDep, session: SessionDep, item_id: str) -> Response:
    found = oversight.destruction_certificate(node, session.actor, item_id)
    label = Label.from_canonical(found.item.label_bytes, node.schemes)
    return render.page(request, session, "certificate.html", title=f"Destruction certificate {item_id}",
                       section="items", labels=[label], item=found.item, certificate=found, size=len(found.data))


@router.get("/items/{item_id}/certificate.cose")
def certificate_file(node: NodeDep, session: SessionDep, item_id: str) -> Response:
    """The signed record itself, as sent to the originator: `gsomia verify FILE --key PUB.json` checks it."""
    found = oversight.destruction_certificate(node, session.actor, item_id)
    return Response(found.data, media_type="application/cose",
                    headers={"Content-Disposition": f'attachment; filename="destruction-{item_id}.cose"'})
