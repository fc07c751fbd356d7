"""Items as STANAG 4778 binding data objects (the format: domain/stanag4778.py), out and back in.

- `export_item`: the item is read as the official asks (`handling.read`: the read decision, audited; content
  only if allowed), and its label and content bound by the node's current signing key (the crypto layer's
  signer: the key never leaves it), named by its key id.
- `import_object`: the binding checked whole (structure, both digests, the signature by a key this node
  trusts: its own generations or a partner's published key, and the label mapped to ours), then the item
  originated here through the same decision as any other (`handling.originate`). Only this party's own
  information is taken in this way, signed by this party's key: a partner's item arrives as a signed release
  over the peer link, where its receipt is decided (R4.4). A refused import is audited with its reason.
"""

from __future__ import annotations

from gsomia.crypto import CryptoError, KeyDirectory, signature_check
from gsomia.domain.errors import DomainError
from gsomia.domain.stanag4778 import ECDSA_SHA256, EDDSA_ED25519, BindingError, Bound, bind, unbind
from gsomia.services import handling
from gsomia.services.audit_log import EntryDraft, append
from gsomia.services.context import Actor, Node
from gsomia.services.errors import InvalidInput, PermissionDenied
from gsomia.services.exchange_common import label_of
from gsomia.storage.records import ItemRecord

MEDIA_TYPE = "application/octet-stream"
RULES = ("R6.f", "R7.2")
_ALGORITHM = {-8: EDDSA_ED25519, -7: ECDSA_SHA256}  # COSE alg of the node's signing key → XML-Signature URI


class ForeignBinding(BindingError):
    """A binding that holds, made by or for another party: not this way in (R4.4)."""


def export_item(node: Node, actor: Actor, item_id: str, *, purpose: str | None = None) -> bytes:
    """The item as a binding data object, if `actor` may read it (decided and audited as any read)."""
    item, plaintext = handling.read(node, actor, item_id, purpose=purpose)
    keys = node.keys.current
    return bind(label_of(node, item), plaintext, media_type=MEDIA_TYPE, key_name=keys.kid.hex(),
                algorithm=_ALGORITHM[keys.public.alg], sign=keys.signer.sign)


def check_object(node: Node, document: bytes) -> Bound:
    """The label and data of a binding data object whose binding holds under a key this node trusts."""
    trusted = KeyDirectory([*node.partners.directory, *(k.public for k in node.keys)])

    def verify(key_name: str, algorithm: str, signed: bytes, signature: bytes) -> None:
        try:
            public = trusted.public_key(bytes.fromhex(key_name))
        except ValueError:
            public = None
        if public is None:
            raise BindingError(f"signed by key {key_name!r}, which this node does not trust")
        if _ALGORITHM.get(public.alg) != algorithm:
            raise BindingError(f"key {key_name} does not sign with {algorithm}")
        try:
            signature_check(public)(signed, signature)
        except CryptoError:
            raise BindingError("the binding signature does not verify") from None
        if public.party != node.party:
            raise ForeignBinding(f"bound by {public.party}: a partner's item comes as a release over the peer link")

    return unbind(document, node.schemes, verify)


def import_object(node: Node, actor: Actor, document: bytes) -> ItemRecord:
    """Check a binding data object and originate its item here (the originate decision, audited)."""
    try:
        bound = check_object(node, document)
        if bound.label.originator != node.party:
            raise ForeignBinding(f"the label's policy is {bound.label.originator}'s, not this {node.party} node's")
    except DomainError as bad:
        with node.store.unit_of_work() as uow:
            append(uow, node.clock(), [EntryDraft(actor.official.id, actor.via, "item.import-4778", None, "deny",
                                                  RULES, (str(bad),))])
        if isinstance(bad, ForeignBinding):
            raise PermissionDenied(str(bad), rules=("R4.4",), reasons=(str(bad),)) from None
        raise InvalidInput(f"binding data object refused: {bad}") from None
    return handling.originate(node, actor, bound.label, bound.data)
