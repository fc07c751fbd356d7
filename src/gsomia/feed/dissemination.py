"""Per-recipient policy filtering for the track feed: decide per stream, apply per message.

The policy (`gsomia.domain.policy.decide`) is asked once per stream and label for each recipient,
never per message: a stream keeps its label for its life, and thousands of messages a second must
not each pay a full decision. A cached decision lapses

- at the next whole hour, so an agreement's change of state at any zone's midnight (entry into
  force, termination, a notice taking effect) is seen within the hour it happens — at most one
  decision per stream per hour, a cost nobody will notice;
- when the acting official's clearance or a consent it relied on expires, exactly then;
- when `invalidate()` is called (a consent withdrawn, an agreement notice recorded).

Which question is asked depends on who receives and whose the item is:

    to a peer, our own item          release  (R6, R4.1: releasability, purpose, governing agreement)
    to a peer, another party's item  relay    (T4, T5: the hub needs the originator's written consent)
    from a peer, on arrival          receive  (and the item is re-marked: provider + our equivalent, R4.4)
    to a local subscriber            read     (clearance, need-to-know, dual marking)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from gsomia.domain.catalog import Catalog
from gsomia.domain.consents import Consent
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official
from gsomia.domain.requests import Action, Decision, Request
from gsomia.feed.tracks import TrackMessage, label_digest

Decider = Callable[[Request], Decision]
Clock = Callable[[], float]
Consents = Callable[[], tuple[Consent, ...]]

_HOUR = 3600.0


def policy_decider(catalog: Catalog) -> Decider:
    """The real policy bound to a catalogue (`gsomia.data.load_catalog()`)."""
    from gsomia.domain.policy import decide

    return lambda request: decide(request, catalog)


def _no_consents() -> tuple[Consent, ...]:
    return ()


@dataclass(frozen=True, slots=True)
class _Cached:
    decision: Decision
    until: float


class StreamFilter:
    """One recipient's gate: `allows(msg)` answers from a per-(stream, label) cache.

    `question(msg, at)` builds the policy request for a message's stream; the subclasses below fix
    it for peers, arrivals and local readers.
    """

    def __init__(self, decider: Decider, clock: Clock, subject: Official, consents: Consents = _no_consents,
                 max_entries: int = 65_536) -> None:
        self._decider = decider
        self._clock = clock
        self.subject = subject
        self._consents = consents
        self._cache: dict[tuple[str, bytes], _Cached] = {}
        self._max = max_entries
        self.decisions_made = 0

    def question(self, msg: TrackMessage, at: datetime, consents: tuple[Consent, ...]) -> Request:
        raise NotImplementedError

    def decision(self, msg: TrackMessage) -> Decision:
        now = self._clock()
        key = (msg.stream, msg.digest)
        hit = self._cache.get(key)
        if hit is not None and now < hit.until:
            return hit.decision
        consents = self._consents()
        at = datetime.fromtimestamp(now, tz=timezone.utc)
        decision = self._decider(self.question(msg, at, consents))
        self.decisions_made += 1
        if len(self._cache) >= self._max:
            self._cache.clear()  # a crude bound; a node never holds this many live streams
        self._cache[key] = _Cached(decision, self._valid_until(now, consents))
        return decision

    def _valid_until(self, now: float, consents: tuple[Consent, ...]) -> float:
        until = math.floor(now / _HOUR) * _HOUR + _HOUR
        expiries = [self.subject.clearance_expires] + [c.until for c in consents]
        for expiry in expiries:
            if expiry is not None:
                until = min(until, max(expiry.timestamp(), now))
        return until

    def allows(self, msg: TrackMessage) -> bool:
        return self.decision(msg).allowed

    def invalidate(self) -> None:
        self._cache.clear()


def _not_releasable(party: str, msg: TrackMessage) -> Decision:
    return Decision(False, ("G1",), (f"{party} is not in the item's releasability (REL TO"
                                     f" {', '.join(sorted(msg.label.releasable_to))}).",))


class PeerFilter(StreamFilter):
    """What may go from this node (`party`) to a peer: release of our own, relay of others' items.

    A relay's final recipient must be in the item's releasability (G1). The policy checks that when the
    originator releases through a hub naming the final recipient, but a feed releases hop by hop (KOR
    releases to the hub only), and `decide_relay` / `decide_receive` with a relay path do not check it
    themselves: the feed checks it here and on receipt, so a consent is never a way around REL TO.
    """

    def __init__(self, decider: Decider, clock: Clock, party: str, peer: str, releaser: Official,
                 relayer: Official | None = None, consents: Consents = _no_consents) -> None:
        super().__init__(decider, clock, releaser, consents)
        self.party, self.peer = party, peer
        self._relayer = relayer or releaser

    def decision(self, msg: TrackMessage) -> Decision:
        if msg.label.originator != self.party and self.peer not in msg.label.releasable_to:
            return _not_releasable(self.peer, msg)
        return super().decision(msg)

    def question(self, msg: TrackMessage, at: datetime, consents: tuple[Consent, ...]) -> Request:
        if msg.label.originator == self.party:
            return Request(Action.RELEASE, at, self.subject, msg.label, recipient=self.peer,
                           item_id=msg.stream, purpose=msg.label.purpose)
        return Request(Action.RELAY, at, self._relayer, msg.label, recipient=self.peer, via=self.party,
                       consents=consents, item_id=msg.stream)


class ReaderFilter(StreamFilter):
    """What a local subscriber (an appointed official) may read."""

    def question(self, msg: TrackMessage, at: datetime, consents: tuple[Consent, ...]) -> Request:
        return Request(Action.READ, at, self.subject, msg.label, item_id=msg.stream)


class Receipt(StreamFilter):
    """Arrival from a peer: may this node hold it, and under which marking (R4.4)?

    `accept(msg)` returns the message re-marked as this party holds it (provider named, our
    equivalent classification added), or None when the policy refuses it. The re-marked label is
    built once per (label, provider), not per message.
    """

    def __init__(self, decider: Decider, clock: Clock, catalog: Catalog, party: str, provider: str,
                 node: Official, consents: Consents = _no_consents) -> None:
        super().__init__(decider, clock, node, consents)
        self._catalog = catalog
        self.party, self.provider = party, provider
        self._held: dict[bytes, tuple[Label, bytes]] = {}

    def decision(self, msg: TrackMessage) -> Decision:
        if self.party not in msg.label.releasable_to:  # see PeerFilter: also through a hub (G1)
            return _not_releasable(self.party, msg)
        return super().decision(msg)

    def question(self, msg: TrackMessage, at: datetime, consents: tuple[Consent, ...]) -> Request:
        via = None if msg.label.originator == self.provider else self.provider
        return Request(Action.RECEIVE, at, self.subject, msg.label, via=via, consents=consents,
                       item_id=msg.stream)

    def accept(self, msg: TrackMessage) -> TrackMessage | None:
        if msg.label.originator == self.party:
            return msg  # our own item coming back (a loop): no re-marking, the caller drops duplicates
        decision = self.decision(msg)
        if not decision.allowed or decision.agreement is None:
            return None
        held = self._held.get(msg.digest)
        if held is None:
            agreement = self._catalog.agreement(decision.agreement)
            ours = agreement.equivalent(msg.label.classification, self.party)
            if ours is None:
                return None
            label = msg.label.received(self.provider, ours)
            held = self._held[msg.digest] = (label, label_digest(label))
        # Built directly rather than with dataclasses.replace, which costs ~4x more per message here.
        return TrackMessage(msg.stream, msg.seq, msg.originator, msg.sensor, msg.time, msg.stale, held[0],
                            msg.body, held[1])
