"""The audit trail anchored at the partners: whoever holds the node's database cannot cut or rewrite it
unseen, once a partner holds a copy.

A running node anchors on its own (gsomia/node.py, every `audit_anchor_s` seconds, or sooner after
`audit_anchor_entries` new entries): `anchor` signs a checkpoint of its audit head and sends every
partner a signed record of it with the hashes of the entries since the previous anchor (32 bytes each).
The partner keeps them (peer_checkpoints) and gives them back on request (`anchors_held_for`, served on
the peer endpoint). `audit verify` with the partners' anchors (`anchored_hashes`) then checks each
local entry against the hash a partner holds of it, so a rewritten entry is named by its seq, and
entries cut off the end are named as missing, even when the local checkpoints were deleted too.

The window, plainly: entries written since the last anchor that reached a partner are protected by the
local chain and checkpoints only, which whoever holds the database can rewrite. With the defaults that
is about `audit_anchor_s` (5 s) plus delivery, longer while a partner cannot be reached.

Anchoring writes nothing to the audit trail itself (nor does receiving a partner's anchor): two nodes
that audited each other's anchors would anchor each other's notes of them for ever.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gsomia.crypto import InvalidRecord, KeyDirectory
from gsomia.domain.officials import Role
from gsomia.services import access, record_bodies
from gsomia.services.audit_chain import audit_time, checkpoint_payload
from gsomia.services.context import Actor, Node
from gsomia.services.exchange_common import enqueue
from gsomia.services.messages import AuditCheckpointMessage
from gsomia.services.record_bodies import CheckpointBody
from gsomia.services.wire import Malformed
from gsomia.storage.records import Checkpoint

MAX_HASHES = 10_000  # per anchor: a node anchoring for the first time after a long while sends the newest


def anchor(node: Node) -> int | None:
    """If entries were appended since the last checkpoint: a signed checkpoint here, and to every partner
    the anchor (head and the new entries' hashes), in one transaction. Returns the entries covered."""
    with node.store.unit_of_work() as uow:
        count, head = uow.audit.lock_head()
        last = uow.audit.last_checkpoint_count()
        if count <= last:
            return None
        now = node.clock()
        at = audit_time(now)
        signer = node.checkpoint_signer
        uow.audit.add_checkpoint(Checkpoint(count, head, at, signer.key_id,
                                            signer.sign(checkpoint_payload(count, head, at, signer.key_id))))
        first = max(last + 1, count - MAX_HASHES + 1)
        hashes = b"".join(bytes.fromhex(h) for h in uow.audit.entry_hashes(first, count))
        record = record_bodies.sign(CheckpointBody(count, head, at, node.party, first, hashes), signer=node.keys,
                                    at=now)
        for party in sorted(node.partners.by_party):
            enqueue(uow, now, party, AuditCheckpointMessage(record))
    return count


def anchors_held_for(node: Node, party: str) -> list[bytes]:
    """The signed anchors `party` sent this node, as they came: given back when it asks."""
    with node.store.unit_of_work(readonly=True) as uow:
        return uow.exchange.peer_checkpoint_records(party)


def export_held(node: Node, actor: Actor, party: str) -> list[bytes]:
    """`anchors_held_for`, for this node's security officer to hand to `party` (or an inspector) by hand."""
    access.require(node, actor, "audit.anchors", party, Role.SECURITY_OFFICER)
    return anchors_held_for(node, party)


@dataclass(frozen=True, slots=True)
class Anchored:
    """The entry hashes partners hold of this node's trail, verified as this node's own signatures."""

    hashes: dict[int, str]
    by: str            # who holds them, for the report
    records: int       # anchors read
    rejected: int      # records that did not verify as ours, or could not be read: ignored


def anchored_hashes(node: Node, records: Iterable[bytes], by: str) -> Anchored:
    """The hashes in anchors a partner gave back. Each must be signed by one of this node's own keys
    (any generation) and speak for this node; anything else counts for nothing."""
    ours = KeyDirectory(keys.public for keys in node.keys)
    hashes: dict[int, str] = {}
    read = rejected = 0
    for data in records:
        read += 1
        try:
            body, record = record_bodies.read(data, CheckpointBody, trusted=ours)
        except (InvalidRecord, Malformed):
            rejected += 1
            continue
        if body.party != node.party or record.signer.party != node.party:
            rejected += 1
            continue
        hashes[body.count] = body.head_hash
        if body.first_seq is not None and body.hashes:
            hashes.update({body.first_seq + n: body.hashes[32 * n:32 * n + 32].hex()
                           for n in range(len(body.hashes) // 32)})
    return Anchored(hashes, by, read, rejected)
