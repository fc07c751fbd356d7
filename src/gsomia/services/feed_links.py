"""Who may connect to the missile-warning feed, and which written consents travel on its links.

- A partner's push is admitted only from a configured partner's node, over TLS with the client certificate
  pinned for that partner in peers.toml (`admit_partner`).
- A subscriber reads as the official whose personal token it presents (`admit_subscriber`).
- The feed weighs the standing (topic) consents among the signed records of the node's consents table, plus
  those partners sent on feed links; every record is verified against the signer's published key and must
  be signed by the party that consents (`FeedConsents`). A consent for one item is none of the feed's
  business (tracks are not items) and never passes on: it would tell partners of an item and a third party
  they have no need to know of. A partner's link gets only the consents it needs: those naming it, and
  those it must relay on as the hub (T4, T5).
"""

from __future__ import annotations

from collections.abc import Iterable

from gsomia.crypto import KeyDirectory, fingerprint
from gsomia.domain.consents import Consent
from gsomia.domain.officials import Official
from gsomia.services import officials
from gsomia.services.context import Node
from gsomia.services.errors import AuthenticationFailed
from gsomia.services.exchange_common import consents_from_records, granted_consents

VIA = "feed"


def admit_partner(node: Node, node_id: str, certificate: bytes | None) -> bool:
    """May the feed node `node_id` push to us over a connection whose TLS client certificate (DER) is
    `certificate`? Only a partner's node, with the certificate pinned for that partner."""
    partner = next((p for p in node.partners.by_party.values() if p.keys.node == node_id), None)
    return partner is not None and certificate is not None and fingerprint(certificate) == partner.tls_fingerprint


def admit_subscriber(node: Node, authorization: str | None) -> Official | None:
    """The official a subscriber reads as, from its `Authorization: Bearer <personal token>`; None refuses
    (every failure audited by `officials.authenticate`)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return officials.authenticate(node, token.strip(), via=VIA)
    except AuthenticationFailed:
        return None


def recently_admitted(node: Node, authorization: str | None) -> Official | None:
    """`admit_subscriber` from the token cache, without I/O (services/token_cache.py, as the API's requests
    are): None when the token was not checked a moment ago; then ask `admit_subscriber`."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return officials.recently_authenticated(node, token.strip())


def needs(node: Node, party: str, consent: Consent) -> bool:
    """Whether `party`'s feed node needs this consent: it is the third party the consent names, or a hub
    through which the consenting party's tracks must pass to that party (T4, T5). No other partner learns
    of it (need to know)."""
    return party == consent.to or any(r.origin == consent.by and r.to == consent.to and r.via == party
                                      for agreement in node.catalog.agreements for r in agreement.relays)


class FeedConsents:
    """The standing consents the feed weighs, as signed records, verified; and which partner needs which."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._trusted = KeyDirectory([*node.partners.directory, *(k.public for k in node.keys)])
        self._held: dict[bytes, Consent] = {}

    def held(self) -> tuple[Consent, ...]:
        """What the feed's gates weigh now."""
        return tuple(self._held.values())

    def in_table(self) -> list[bytes]:
        """The standing consents granted in the node's consents table, every party's (a read of the store)."""
        with self.node.store.unit_of_work(readonly=True) as uow:
            parties = sorted(self.node.catalog.schemes.parties)
            return [record for party in parties for record in granted_consents(uow, party).standing]

    def merge(self, records: Iterable[bytes]) -> list[bytes]:
        """The standing consents among `records` not held before, verified and now held; the rest is dropped
        (unverifiable, signed by another party than the one consenting, or for one item)."""
        new = []
        for record in records:
            if record in self._held:
                continue
            found = consents_from_records([record], self._trusted)
            if found and found[0].item_id is None:
                self._held[record] = found[0]
                new.append(record)
        return new

    def needed_by(self, party: str, records: Iterable[bytes] | None = None) -> list[bytes]:
        """Of `records` (held ones; by default all), those `party`'s link must carry (`needs`)."""
        return [r for r in (self._held if records is None else records) if needs(self.node, party, self._held[r])]
