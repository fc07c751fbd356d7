"""The peer endpoint partner nodes call: mutual TLS, the caller pinned by its certificate.

    POST /peer/v1/batch     CBOR array of signed messages → CBOR array: per message its signed
                            answer (bytes) or {"status", "error"} when it was not taken
    POST /peer/v1/messages  one signed message → its signed answer, or an HTTP error
    POST /peer/v1/anchors   → CBOR array: the audit anchors the caller sent us, as signed (to verify its
                            own trail against; services/audit_anchors.py)
"""

from __future__ import annotations

import re
from typing import Any

import cbor2
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from gsomia.crypto import fingerprint
from gsomia.edge.limits import EdgeLimits, RouteLimits
from gsomia.federation.tls import PEER_CERTIFICATE
from gsomia.services.audit_anchors import anchors_held_for
from gsomia.services.context import Node
from gsomia.services.inbound import handle_messages, open_batch
from gsomia.services.peer_messages import ProtocolError

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_BATCH_MESSAGES = 256


def create_peer_app(node: Node) -> FastAPI:
    app = FastAPI(title=f"gsomia peer endpoint ({node.party})", version="1", docs_url=None, redoc_url=None,
                  openapi_url=None)
    # Every caller has shown a partner's certificate already (TLS): no token; bodies bounded as they arrive.
    app.add_middleware(EdgeLimits, limits=RouteLimits(default=MAX_MESSAGE_BYTES, open=(re.compile(".*"),)))

    @app.exception_handler(_NotTaken)
    async def not_taken(_request: Request, refused: _NotTaken) -> JSONResponse:
        return JSONResponse({"error": refused.reason}, status_code=refused.status)

    async def caller_and_body(request: Request) -> tuple[str, bytes]:
        """The pinned partner the request came from and its body; _NotTaken otherwise."""
        der = getattr(request.state, PEER_CERTIFICATE, None)
        tls_party = node.partners.party_of_fingerprint(fingerprint(der)) if der else None
        if tls_party is None:
            raise _NotTaken(403, "client certificate is not a pinned partner node")
        return tls_party, await request.body()  # bounded by the edge (EdgeLimits) as it arrived

    @app.post("/peer/v1/messages")
    async def receive_message(request: Request) -> Response:
        """A signed message from a partner node; the answer is our signed receipt (or a refusal)."""
        tls_party, body = await caller_and_body(request)
        answer = (await node.write(handle_messages, node, open_batch(node, [body], tls_party)))[0]
        if isinstance(answer, ProtocolError):
            raise _NotTaken(answer.status, str(answer))
        return Response(answer, media_type="application/cose; cose-type=cose-sign1")

    @app.post("/peer/v1/batch")
    async def receive_batch(request: Request) -> Response:
        """Signed messages from a partner node, answered one by one and recorded together."""
        tls_party, body = await caller_and_body(request)
        answers = await node.write(handle_messages, node, open_batch(node, _batch(body), tls_party))
        entries: list[Any] = [a if isinstance(a, bytes) else {"status": a.status, "error": str(a)} for a in answers]
        return Response(cbor2.dumps(entries), media_type="application/cbor")

    @app.post("/peer/v1/anchors")
    async def anchors(request: Request) -> Response:
        """The caller's own audit anchors, as this node keeps them: its evidence against a cut or rewrite."""
        tls_party, _ = await caller_and_body(request)
        held = await node.read(anchors_held_for, node, tls_party)
        return Response(cbor2.dumps(held), media_type="application/cbor")

    return app


class _NotTaken(Exception):
    """A request the peer endpoint does not take at all: answered with its status and `{"error": …}`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _batch(body: bytes) -> list[bytes]:
    """The messages of a batch body; _NotTaken (400) saying what is wrong with it."""
    try:
        batch = cbor2.loads(body)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as bad:
        raise _NotTaken(400, f"batch is not CBOR: {bad}") from None
    if not isinstance(batch, list) or not all(isinstance(m, bytes) for m in batch):
        raise _NotTaken(400, "batch must be a CBOR array of byte strings (signed messages)")
    if not 1 <= len(batch) <= MAX_BATCH_MESSAGES:
        raise _NotTaken(400, f"batch must hold 1 to {MAX_BATCH_MESSAGES} messages")
    return batch
