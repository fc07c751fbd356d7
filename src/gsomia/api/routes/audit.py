"""The hash-chained audit trail (R7.5 records of access and handling): page through it, verify it, checkpoint it.

Paging is by sequence number: the client passes back `next` as `since`. The server keeps no cursor,
so any replica or restart answers the same page the same way.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from gsomia.api import schemas, views
from gsomia.api.auth import ActorDep, NodeDep
from gsomia.api.errors import responses
from gsomia.services import audit, signing

router = APIRouter(prefix="/v1/audit", tags=["audit"])

MAX_PAGE = 1000


@router.get("/entries", response_model=schemas.AuditPage, responses=responses(403))
def entries(node: NodeDep, actor: ActorDep, since: Annotated[int, Query(ge=0, le=2**62)] = 0,
            limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> schemas.AuditPage:
    """Entries after seq `since`, oldest first (R7.5); only the security officer reads the trail."""
    found, cursor = audit.entries_after(node, actor, since, limit)
    return schemas.AuditPage(entries=[views.audit_entry(e) for e in found], next=cursor)


@router.get("/verify", response_model=schemas.VerifyOut, responses=responses(403))
def verify(node: NodeDep, actor: ActorDep) -> schemas.VerifyOut:
    """Walk the whole chain and every checkpoint, checking signatures with the node's public key; `ok`
    false names the first bad entry. (A broken chain is a finding, not an HTTP error: still 200.)"""
    public = signing.node_public_key(node.settings.effective_keys_dir)
    check = signing.signature_check(public) if public else None
    return views.verify_report(audit.verify_store(node, actor, check_signature=check))


@router.post("/checkpoints", status_code=status.HTTP_201_CREATED, response_model=schemas.CheckpointOut,
             responses=responses(403))
def checkpoint(node: NodeDep, actor: ActorDep) -> schemas.CheckpointOut:
    """Sign the current head (count, hash, time) with the node's key, so later deletion shows."""
    return views.checkpoint(audit.checkpoint(node, actor, node.checkpoint_signer))
