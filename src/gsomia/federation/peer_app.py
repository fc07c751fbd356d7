"""The peer endpoint partner nodes call: one route, mutual TLS, the caller pinned by its certificate."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gsomia.crypto import fingerprint
from gsomia.federation.tls import PEER_CERTIFICATE
from gsomia.services.inbound import handle_message
from gsomia.services.partners import Partners
from gsomia.services.peer_messages import ProtocolError
from gsomia.services.runtime import Node

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def create_peer_app(node: Node, partners: Partners) -> FastAPI:
    app = FastAPI(title=f"gsomia peer endpoint ({node.party})", version="1", docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.post("/peer/v1/messages")
    async def receive_message(request: Request) -> Response:
        """A signed message from a partner node; the answer is our signed receipt (or a refusal)."""
        der = getattr(request.state, PEER_CERTIFICATE, None)
        tls_party = partners.party_of_fingerprint(fingerprint(der)) if der else None
        if tls_party is None:
            return JSONResponse({"error": "client certificate is not a pinned partner node"}, status_code=403)
        body = await request.body()
        if len(body) > MAX_MESSAGE_BYTES:
            return JSONResponse({"error": "message too large"}, status_code=413)
        try:
            answer = await run_in_threadpool(handle_message, node, partners, body, tls_party)
        except ProtocolError as refused:
            return JSONResponse({"error": str(refused)}, status_code=refused.status)
        notify = getattr(request.app.state, "outbox_changed", None)
        if notify is not None:
            notify()  # a relay, a forwarded notice: our sender has work
        return Response(answer, media_type="application/cose; cose-type=cose-sign1")

    return app
