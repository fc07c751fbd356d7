"""What an official may attempt on an item, for a screen to offer: the policy's own answers, asked as
what-ifs (not audited; the act itself is), and the structural rules the use cases apply (G2: an official
releases only its own party's items and discloses only others'; R6.g and R6.h: only the originator
reclassifies and recalls; R6.e: recalls are the security officer's).

Nothing here allows anything: every use case decides again, and audits, when it is called. An edge (the
web console) shows these so that each role sees what it may do, with the reasons when it may not.
"""

from __future__ import annotations

from dataclasses import dataclass

from gsomia.domain.labels import Label
from gsomia.domain.officials import Role
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request
from gsomia.services import items, visibility
from gsomia.services.context import Actor, Node
from gsomia.storage.records import ItemRecord


@dataclass(frozen=True, slots=True)
class ItemActions:
    read: Decision | None          # None: the item is destroyed
    copy: Decision | None
    destroy: Decision | None
    release: bool                  # our own item: the release dialog asks the policy per recipient
    disclose: bool                 # a partner's item held here: the dialog asks the policy (R6.a)
    request_consent: bool          # ... and its originator can be asked for written consent (R6.a)
    reclassify: bool               # our own item (R6.g)
    recall: bool                   # our own item, by the security officer (R6.h)
    report: bool                   # any item held here can be reported lost or compromised (R17.1)
    certificate: bool              # destroyed here: its signed certificate can be shown and kept
    partners: tuple[str, ...]      # configured partner nodes: where a release or disclosure can go


def item_actions(node: Node, actor: Actor, item: ItemRecord) -> ItemActions:
    label = Label.from_canonical(item.label_bytes, node.schemes)
    ours = item.origin != "received" and label.originator == node.party
    live = item.state != items.DESTROYED
    officer = visibility.sees_everything(actor)

    def what_if(action: Action) -> Decision | None:
        return decide(Request(action, node.clock(), actor.official, label, item_id=item.id),
                      node.catalog) if live else None

    return ItemActions(
        read=what_if(Action.READ), copy=what_if(Action.COPY), destroy=what_if(Action.DESTROY),
        release=live and ours, disclose=live and not ours, request_consent=live and not ours,
        reclassify=live and ours, recall=ours and officer and item.state == items.RELEASED,
        report=live, certificate=not live, partners=tuple(sorted(node.partners.by_party)))


def keeps_register(actor: Actor) -> bool:
    """The register of officials and the audit trail are the security officer's (R6.e, R7.5)."""
    return visibility.sees_everything(actor) and Role.SECURITY_OFFICER in actor.official.roles


__all__ = ["ItemActions", "item_actions", "keeps_register"]
