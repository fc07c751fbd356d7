"""Per-recipient policy filtering for the track feed: decide per stream, apply per message.

The policy (`gsomia.domain.policy.decide`) is asked once per stream and label for each recipient,
never per message: a stream keeps its label for its life, and thousands of messages a second must
not each pay a full decision. A cached decision lapses

- at the next whole hour, so an agreement's change of state at any zone's midnight (entry into
  force, termination, a notice taking effect) is seen within the hour it happens — at most one
  decision per stream per hour, a cost nobody will notice;
- when the acting official's clearance or a consent it relied on expires, exactly then;
- when `invalidate()` is called (a consent withdrawn, an agreement notice recorded).

Every cached decision also counts the messages it is applied to (`allows`), for the audit trail: a
`HopLedger` (`hop_audit`) collects the counts per interval, and a refusal the moment it is decided.

Which question is asked depends on who receives and whose the item is:

    to a peer, our own item          release  (R6, R4.1: releasability, purpose, governing agreement)
    to a peer, another party's item  relay    (T4, T5: the hub needs the originator's written consent)
    from a peer, on arrival          receive  (and the item is re-marked: provider + our equivalent, R4.4)
    to a local subscriber            read     (clearance, need-to-know, dual marking)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone

from gsomia.domain.catalog import Catalog
from gsomia.domain.consents import Consent
from gsomia.domain.hops import HopDecisions
from gsomia.domain.labels import Label
from gsomia.domain.officials import Official
from gsomia.domain.requests import Action, Decision, Request
from gsomia.domain.tracks import Routed, TrackMessage, label_digest
from gsomia.feed.hop_audit import HopLedger

Decider = Callable[[Request], Decision]
Clock = Callable[[], float]
Consents = Callable[[], tuple[Consent, ...]]
Held = tuple[Label, bytes]  # the label (and its digest) a receiving party holds a message under

_HOUR = 3600.0


def policy_decider(catalog: Catalog) -> Decider:
    """The real policy bound to a catalogue (`gsomia.data.load_catalog()`)."""
    from gsomia.domain.policy import decide

    return lambda request: decide(request, catalog)


def _no_consents() -> tuple[Consent, ...]:
    return ()


class _Cached:
    """One (stream, label) decision, and the messages it was applied to since the ledger last looked.

    A mutable slots object: `allows` bumps its counters in place, per message, at no allocation.
    """

    __slots__ = ("decision", "until", "action", "actor", "held", "since", "count", "low", "high")

    def __init__(self, decision: Decision, until: float, action: str, actor: str, held: Held | None,
                 since: float) -> None:
        self.decision, self.until, self.action, self.actor, self.held = decision, until, action, actor, held
        self.since = since
        self.count = self.low = self.high = 0


class StreamFilter:
    """One recipient's gate: `allows(msg)` answers from a per-(stream, label) cache and counts.

    `question(msg, at)` builds the policy request for a message's stream; the subclasses below fix
    it for peers, arrivals and local readers. `counterpart` names the other side of the hop in the
    audit trail.
    """

    counterpart = ""

    def __init__(self, decider: Decider, clock: Clock, subject: Official, consents: Consents = _no_consents,
                 max_entries: int = 65_536) -> None:
        self._decider = decider
        self._clock = clock
        self.subject = subject
        self._consents = consents
        self._cache: dict[tuple[str, bytes], _Cached] = {}
        self._max = max_entries
        self._ledger: HopLedger | None = None
        self.decisions_made = 0
        self.refused = 0  # messages this gate has stopped, since it was made

    def audit_to(self, ledger: HopLedger) -> None:
        """Report this gate's decisions and counts to `ledger` (the node's audit writer drains it)."""
        self._ledger = ledger
        ledger.watch(self)

    def question(self, msg: Routed, at: datetime, consents: tuple[Consent, ...]) -> Request:
        raise NotImplementedError

    def precheck(self, msg: Routed) -> Decision | None:
        """A refusal that needs no policy question (the subclasses' G1 checks), or None."""
        return None

    def settle(self, msg: Routed, decision: Decision) -> tuple[Decision, Held | None]:
        """What follows from an allowed decision (a receipt's re-marked label); may still refuse."""
        return decision, None

    def _entry(self, msg: Routed) -> _Cached:
        now = self._clock()
        key = (msg.stream, msg.digest)
        hit = self._cache.get(key)
        if hit is not None and now < hit.until:
            return hit
        return self._decide(msg, key, now, hit)

    def _decide(self, msg: Routed, key: tuple[str, bytes], now: float, old: _Cached | None) -> _Cached:
        if old is not None and old.count and self._ledger is not None:
            self._ledger.closed([self._record(key[0], old, old.since, now)])
        consents = self._consents()
        request = self.question(msg, datetime.fromtimestamp(now, tz=timezone.utc), consents)
        decision = self.precheck(msg) or self._decider(request)
        held = None
        if decision.allowed:
            decision, held = self.settle(msg, decision)
        self.decisions_made += 1
        if len(self._cache) >= self._max:
            self.invalidate()  # a crude bound; a node never holds this many live streams
        entry = self._cache[key] = _Cached(decision, self._valid_until(now, consents), request.action.value,
                                           request.subject.id, held, now)
        if not decision.allowed and self._ledger is not None:
            # A refusal reaches the audit trail at once; its messages are counted as they come.
            entry.low = entry.high = msg.seq
            self._ledger.refused(self._record(key[0], entry, now, now))
        return entry

    def _valid_until(self, now: float, consents: tuple[Consent, ...]) -> float:
        until = math.floor(now / _HOUR) * _HOUR + _HOUR
        expiries = [self.subject.clearance_expires] + [c.until for c in consents]
        for expiry in expiries:
            if expiry is not None:
                until = min(until, max(expiry.timestamp(), now))
        return until

    def decision(self, msg: Routed) -> Decision:
        """The decision for `msg`'s stream, without counting `msg` as sent (inspection, tests)."""
        return self._entry(msg).decision

    def _count(self, msg: Routed) -> _Cached:
        # `_entry` inlined: this runs for every message at every gate.
        now = self._clock()
        key = (msg.stream, msg.digest)
        entry = self._cache.get(key)
        if entry is None or now >= entry.until:
            entry = self._decide(msg, key, now, entry)
        seq = msg.seq
        if entry.count:
            if seq > entry.high:
                entry.high = seq
            elif seq < entry.low:
                entry.low = seq
        else:
            entry.low = entry.high = seq
        entry.count += 1
        return entry

    def allows(self, msg: Routed) -> bool:
        """Decide for `msg` (from the cache) and count it: the per-message call of every hop."""
        if self._count(msg).decision.allowed:
            return True
        self.refused += 1
        return False

    def invalidate(self) -> None:
        if self._ledger is not None:
            now = self._clock()
            self._ledger.closed([self._record(key[0], e, e.since, now) for key, e in self._cache.items() if e.count])
        self._cache.clear()

    def counts(self, since: float, until: float) -> list[HopDecisions]:
        out = []
        for key, entry in self._cache.items():
            if entry.count:
                out.append(self._record(key[0], entry, max(since, entry.since), until))
                entry.count = 0
                entry.since = until
        return out

    def _record(self, stream: str, entry: _Cached, since: float, until: float) -> HopDecisions:
        d = entry.decision
        return HopDecisions(entry.action, entry.actor, stream, self.counterpart, d.allowed, d.rules, d.reasons,
                            d.agreement, entry.count, entry.low, entry.high, since, until)


def _not_releasable(party: str, msg: Routed) -> Decision:
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
        self.counterpart = f"to {peer}"

    def precheck(self, msg: Routed) -> Decision | None:
        if msg.label.originator != self.party and self.peer not in msg.label.releasable_to:
            return _not_releasable(self.peer, msg)
        return None

    def question(self, msg: Routed, at: datetime, consents: tuple[Consent, ...]) -> Request:
        if msg.label.originator == self.party:
            return Request(Action.RELEASE, at, self.subject, msg.label, recipient=self.peer,
                           item_id=msg.stream, purpose=msg.label.purpose)
        return Request(Action.RELAY, at, self._relayer, msg.label, recipient=self.peer, via=self.party,
                       consents=consents, item_id=msg.stream)


class ReaderFilter(StreamFilter):
    """What a local subscriber (an appointed official) may read."""

    def __init__(self, decider: Decider, clock: Clock, reader: Official) -> None:
        super().__init__(decider, clock, reader)
        self.counterpart = f"reader {reader.id}"

    def question(self, msg: Routed, at: datetime, consents: tuple[Consent, ...]) -> Request:
        return Request(Action.READ, at, self.subject, msg.label, item_id=msg.stream)


class Receipt(StreamFilter):
    """Arrival from a peer: may this node hold it, and under which marking (R4.4)?

    `held(msg)` returns the label (and digest) the message is held under here — provider named, our
    equivalent classification added — or None when the policy refuses it. The re-marked label is
    built once per decision, not per message.
    """

    def __init__(self, decider: Decider, clock: Clock, catalog: Catalog, party: str, provider: str,
                 node: Official, consents: Consents = _no_consents) -> None:
        super().__init__(decider, clock, node, consents)
        self._catalog = catalog
        self.party, self.provider = party, provider
        self.counterpart = f"from {provider}"

    def precheck(self, msg: Routed) -> Decision | None:
        if self.party not in msg.label.releasable_to:  # see PeerFilter: also through a hub (G1)
            return _not_releasable(self.party, msg)
        return None

    def question(self, msg: Routed, at: datetime, consents: tuple[Consent, ...]) -> Request:
        via = None if msg.label.originator == self.provider else self.provider
        return Request(Action.RECEIVE, at, self.subject, msg.label, via=via, consents=consents,
                       item_id=msg.stream)

    def settle(self, msg: Routed, decision: Decision) -> tuple[Decision, Held | None]:
        if decision.agreement is None:
            return Decision(False, ("G3",), ("no agreement governs this receipt.",)), None
        ours = self._catalog.agreement(decision.agreement).equivalent(msg.label.classification, self.party)
        if ours is None:
            return Decision(False, ("R4.1",), (f"{decision.agreement} gives {self.party} no equivalent of"
                                               f" {msg.label.classification}.",), decision.agreement), None
        label = msg.label.received(self.provider, ours)
        return decision, (label, label_digest(label))

    def held(self, msg: Routed) -> Held | None:
        """Decide for `msg`, count it, and give the label it is held under here (None: refused)."""
        if msg.label.originator == self.party:
            return msg.label, msg.digest  # our own item coming back (a loop): the caller drops duplicates
        return self._count(msg).held

    def accept(self, msg: TrackMessage) -> TrackMessage | None:
        """`msg` re-marked as this party holds it, or None when refused."""
        held = self.held(msg)
        if held is None:
            return None
        return TrackMessage(msg.stream, msg.seq, msg.originator, msg.sensor, msg.time, msg.stale, held[0],
                            msg.body, held[1])
