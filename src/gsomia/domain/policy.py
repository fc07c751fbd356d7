"""The one decision function: `decide(request, catalog) -> Decision`. Pure, default deny.

Every check that fails adds a (rule id, reason) pair; a request is allowed only when no check fails
and the action is one the policy knows. Rule ids are the rule book's (R4.3, T5 …) plus a few of our
own for structural checks (G1 releasability, G2 acting for one's own party, G3 no governing agreement).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from gsomia.domain.agreements import Agreement, Relay
from gsomia.domain.catalog import Catalog
from gsomia.domain.life import State
from gsomia.domain.officials import OfficialStatus, Role
from gsomia.domain.requests import Action, Decision, Request
from gsomia.domain.schemes import Classification, Tier
from gsomia.domain.versions import version_problems

Problem = tuple[str, str]

RELEASERS = frozenset({Role.RELEASING_OFFICIAL})
HUMANS = frozenset({Role.READER, Role.RELEASING_OFFICIAL, Role.SECURITY_OFFICER})
OFFICERS = frozenset({Role.SECURITY_OFFICER})
CUSTODIANS = frozenset({Role.NODE, Role.SECURITY_OFFICER})
HUB_OPERATORS = frozenset({Role.NODE, Role.RELEASING_OFFICIAL, Role.SECURITY_OFFICER})


def _roles_text(roles: frozenset[Role]) -> str:
    return " or ".join(sorted(r.value for r in roles))


def subject_problems(request: Request, catalog: Catalog, item_tier: Tier, roles: frozenset[Role],
                     topics: frozenset[str] | None) -> list[Problem]:
    """Is this official appointed, in role, cleared high enough until now, with need-to-know (R6.e, R7)?"""
    s = request.subject
    # Each check is made once, here; a reason is written only for a check that failed (rarely: most
    # requests pass them all, and then this costs a few comparisons).
    active = s.status is OfficialStatus.ACTIVE
    in_role = not s.roles.isdisjoint(roles)
    national = s.clearance.party == s.party
    current = national and s.clearance_valid_at(request.at)
    high_enough = current and catalog.schemes.tier(s.clearance) >= item_tier
    need_to_know = topics is None or (bool(topics) and topics <= s.need_to_know)
    if active and in_role and high_enough and need_to_know:
        return []
    who = s.id or f"the {s.party} official"
    problems: list[Problem] = []
    if not active:
        problems.append(("R6.e", f"{who} is {s.status.value}, not an active appointed official."))
    if not in_role:
        held = ", ".join(sorted(r.value for r in s.roles)) or "no role"
        problems.append(("R6.e", f"{request.action.value} needs the role {_roles_text(roles)}; {who} holds {held}."))
    if not national:
        problems.append(("R7.2", f"{who}'s clearance {s.clearance} is not a {s.party} national clearance."))
    elif not current:
        problems.append(("R7.2", f"{who}'s clearance expired on {s.clearance_expires:%Y-%m-%d}."))
    elif not high_enough:
        cleared_to = catalog.schemes.tier(s.clearance)
        problems.append(("R7.2", f"{who} is cleared to {s.clearance} ({cleared_to.banner}),"
                                 f" below the item's {item_tier.banner}."))
    if not need_to_know:
        if not topics:
            problems.append(("R7.2", "the item names no topic, so need-to-know cannot be established."))
        else:
            missing = ", ".join(sorted(topics - s.need_to_know))
            problems.append(("R7.2", f"{who} has no need-to-know for {missing}."))
    if not (high_enough and need_to_know) and s.roles & (OFFICERS | RELEASERS):
        problems.append(("R7.1", "rank, position or role never replaces clearance and need-to-know."))
    return problems


def agreement_problems(request: Request, catalog: Catalog, agreement: Agreement, origin: str, to: str,
                       classification: Classification, topics: frozenset[str], via: str | None,
                       ) -> tuple[Relay | None, list[Problem]]:
    """Does this agreement, today, allow this classification on these topics from `origin` to `to`?"""
    problems: list[Problem] = []
    status = catalog.status(agreement, request.at)
    if status.state is State.NOT_YET_IN_FORCE:
        problems.append(("R21.1", f"{agreement.id} is not yet in force on {status.on}."))
    elif status.state is State.TERMINATED:
        problems.append(("R21.4", f"{agreement.id} ended on {status.terminates_on}: no new releases; items"
                                  " already held stay protected under its terms."))
    for other_id in agreement.rides_on:
        other = catalog.agreement(other_id)
        if not catalog.status(other, request.at).in_force:
            problems.append(("T3", f"{agreement.id} rides on {other_id}, which is not in force on that date."))
    relay: Relay | None = None
    if via is None:
        if not agreement.is_direct(origin, to):
            hub = agreement.relay(origin, to)
            how = f"only through {hub.via}" if hub else "by no direct path"
            problems.append((agreement.rule("path"), f"under {agreement.id}, {origin} shares with {to} {how}."))
    else:
        relay = agreement.relay(origin, to, via)
        if relay is None:
            problems.append((agreement.rule("path"), f"{agreement.id} has no path {origin} → {via} → {to}."))
    if not agreement.covers_topics(topics):
        scope = ", ".join(sorted(agreement.scope_topics or ())) or "its scope"
        problems.append((agreement.rule("scope"), f"topics {', '.join(sorted(topics)) or '(none)'} are outside"
                                                  f" {agreement.id}'s scope ({scope})."))
    tier = catalog.schemes.level(classification).tier
    if tier > agreement.highest_tier:
        problems.append((agreement.rule("highest"), f"{classification} ({tier.banner}) is above the highest level"
                                                    f" {agreement.id} allows ({agreement.highest_tier.banner})."))
    else:
        row = agreement.row_for(classification)
        if row is None:
            problems.append((agreement.rule("table"), f"{classification} is not a marking in {agreement.id}'s"
                                                      " equivalence table."))
        else:
            for party in (to,) if via is None else (via, to):
                if row.marking_for(party) is None:
                    problems.append(("R6.c", f"{agreement.id} gives {party} no equivalent of {classification}."))
    return relay, problems


def governing_agreement(request: Request, catalog: Catalog, origin: str, to: str, classification: Classification,
                        topics: frozenset[str], via: str | None,
                        ) -> tuple[Agreement | None, Relay | None, Sequence[Problem]]:
    """The first agreement (binding ones first) under which the path is open; else every reason why not.

    Remembered per local day: the answer depends on the date, never on the time of day.
    """
    key = (request.agreement, origin, to, via, classification, topics, catalog.day_key(request.at))
    known = catalog.governing.get(key)
    if known is None:
        agreement, relay, problems = find_governing_agreement(request, catalog, origin, to, classification, topics,
                                                              via)
        known = catalog.governing.put(key, (agreement, relay, tuple(problems)))
    return known


def find_governing_agreement(request: Request, catalog: Catalog, origin: str, to: str, classification: Classification,
                             topics: frozenset[str], via: str | None,
                             ) -> tuple[Agreement | None, Relay | None, list[Problem]]:
    parties = {origin, to} | ({via} if via else set())
    if request.agreement is not None:
        candidates: tuple[Agreement, ...] = (catalog.agreement(request.agreement),)
        if not parties <= candidates[0].parties:
            return None, None, [("G3", f"{request.agreement} does not bind {', '.join(sorted(parties))}.")]
    else:
        candidates = tuple(a for a in catalog.between(origin, to) if parties <= a.parties)
    if not candidates:
        return None, None, [("G3", f"no agreement binds {' and '.join(sorted(parties))}: nothing may pass.")]
    everything: list[Problem] = []
    for agreement in candidates:
        relay, problems = agreement_problems(request, catalog, agreement, origin, to, classification, topics, via)
        if not problems:
            return agreement, relay, []
        everything.extend(problems)
    return None, None, everything


def consent_problems(request: Request, by: str, to: str, rule: str) -> list[Problem]:
    for consent in request.consents:
        if consent.by == by and consent.covers(request.item, request.item_id, to, request.at):
            return []
    return [(rule, f"no written consent of {by} for this item to go to {to} is held (or it has expired).")]


def _allow(rules: tuple[str, ...], agreement: Agreement | None, why: str) -> Decision:
    return Decision(True, rules, (why,), agreement.id if agreement else None)


def _deny(problems: Sequence[Problem], agreement: Agreement | None = None) -> Decision:
    rules: list[str] = []
    reasons: list[str] = []
    for rule, reason in problems:  # a handful at most: lists beat sets here
        if rule not in rules:
            rules.append(rule)
        if reason not in reasons:
            reasons.append(reason)
    return Decision(False, tuple(rules), tuple(reasons), agreement.id if agreement else None)


def _tier(catalog: Catalog, classification: Classification) -> Tier:
    return catalog.schemes.tier(classification)


def _held_marking(request: Request) -> Classification | None:
    """The marking the subject's party protects the item under: its own, or the dual marking (R4.4)."""
    item, party = request.item, request.subject.party
    if item.classification.party == party:
        return item.classification
    if item.national_marking is not None and item.national_marking.party == party:
        return item.national_marking
    return None


# --- one function per action ---------------------------------------------------------------------


def decide_originate(request: Request, catalog: Catalog) -> Decision:
    item, party = request.item, request.subject.party
    problems = subject_problems(request, catalog, _tier(catalog, item.classification), HUMANS, item.topics)
    if item.originator != party or item.classification.party != party:
        problems.append(("G2", f"a {party} official originates only {party} items in the {party} scheme."))
    if item.releasable_to - {party} and not item.purpose.strip():
        problems.append(("R6.b", "an item meant for partners must state the purpose it is provided for."))
    if problems:
        return _deny(problems)
    return _allow(("R7.2", "R6.b"), None, f"{request.subject.id or 'The official'} may originate"
                  f" this {item.classification} item: cleared, with need-to-know.")


def decide_release(request: Request, catalog: Catalog) -> Decision:
    item, party, to, via = request.item, request.subject.party, request.recipient, request.via
    problems = subject_problems(request, catalog, _tier(catalog, item.classification), RELEASERS, item.topics)
    if to is None:
        return _deny(problems + [("G1", "a release must name its recipient party.")])
    if item.originator != party:
        problems.append(("R6.a", f"the item is {item.originator}'s: passing it on is a disclosure that needs"
                                 f" {item.originator}'s written consent, not a release."))
    if to == party:
        problems.append(("G1", "an item is released to a partner, not to its own party."))
    for needed in (to,) if via is None else (via, to):
        if needed not in item.releasable_to:  # noqa: PERF401 - one or two entries
            problems.append(("G1", f"{needed} is not in the item's releasability (REL TO"
                                   f" {', '.join(sorted(item.releasable_to)) or 'none'})."))
    if not item.purpose.strip():
        problems.append(("R6.b", "the item states no purpose of provision."))
    agreement, relay, path_problems = governing_agreement(request, catalog, party, to, item.classification,
                                                          item.topics, via)
    problems += path_problems
    if relay is not None:
        problems += consent_problems(request, relay.consent_by, to, agreement.rule("relay_consent") if agreement
                                     else "T5")
    if problems:
        return _deny(problems, agreement)
    assert agreement is not None  # no problems means an agreement was found
    key = (party, to, via, item.classification, agreement.id)
    decision = catalog.allowed_releases.get(key)
    if decision is None:
        route = f"via {via} " if via else ""
        decision = catalog.allowed_releases.put(key, _allow(
            ("R7.2", "R6.b", "R4.1", "R4.3", "R21.1") + (("T4", "T5") if via else ()), agreement,
            f"{party} may release this {item.classification} item to {to} {route}under {agreement.id},"
            " which is in force and covers it."))
    return decision


def decide_receive(request: Request, catalog: Catalog) -> Decision:
    """A node takes a partner's item: as its final recipient (directly, or through the hub `via`), or as the
    hub it must pass through (`via` is this party, `recipient` the final one)."""
    item, party = request.item, request.subject.party
    origin, final = item.originator, request.recipient or party
    hub_here = request.via == party and final != party
    via = None if hub_here else request.via  # a hub takes it as it would directly; the relay is its own decision
    sender = request.sender or via or origin
    problems: list[Problem] = []
    if origin == party:
        problems.append(("G2", f"{party} does not receive its own item from a partner."))
    if final != party and not hub_here:
        problems.append(("G1", f"the item is for {final}, and {party} is not the hub it goes through."))
    if request.signer is not None and request.signer not in (origin, sender):
        problems.append(("R6.a", f"the sealed item is signed by {request.signer}, neither its originator {origin}"
                                 f" nor {sender} that provided it."))
    if via is not None and sender != via:
        problems.append(("T4", f"the item is said to come through {via} but {sender} delivered it."))
    if via is None and sender != origin:  # a holder passes on another party's item: a disclosure (R6.a)
        problems += consent_problems(request, origin, party, "R6.a")
    agreement, relay, path_problems = governing_agreement(request, catalog, origin, party, item.classification,
                                                          item.topics, via)
    problems += path_problems
    if relay is not None:
        problems += consent_problems(request, relay.consent_by, party, agreement.rule("relay_consent")
                                     if agreement else "T5")
    if party not in item.releasable_to:  # also through a hub: the originator's marking travels with it
        problems.append(("G1", f"{party} is not in the item's releasability."))
    if request.decided_under is not None:  # the sender's version of the agreement must be ours (G5)
        claimed = request.decided_under[0]
        ours = catalog.versions().get(claimed)
        problems += version_problems(party, sender, request.decided_under,
                                     (catalog.agreement(claimed), ours) if ours is not None else None)
    equivalent = agreement.equivalent(item.classification, party) if agreement else None
    tier = _tier(catalog, equivalent) if equivalent else _tier(catalog, item.classification)
    problems += subject_problems(request, catalog, tier, CUSTODIANS, None)
    if problems:
        return _deny(problems, agreement)
    assert agreement is not None
    return _allow(("R4.4", "R6.c", "R7.5", "R21.1"), agreement,
                  f"{party} may receive it under {agreement.id} and must mark it {equivalent} as well as"
                  f" {item.classification}, provided by {sender}.")


def foreign_item_problems(request: Request, catalog: Catalog) -> tuple[Agreement | None, list[Problem]]:
    """A partner's item held here: dual-marked, and under an agreement still in force (R4.4, R21.4)."""
    item, party = request.item, request.subject.party
    problems: list[Problem] = []
    if not item.dual_marked or item.national_marking is None or item.national_marking.party != party:
        problems.append(("R4.4", f"the item lacks the provider's name and the {party} equivalent marking."))
    if request.purpose is not None and request.purpose != item.purpose:
        problems.append(("R6.b", f"the item was provided for {item.purpose!r}, not {request.purpose!r}."))
    agreement, _, path_problems = governing_agreement(request, catalog, item.originator, party,
                                                      item.classification, item.topics, None)
    if agreement is None:
        # Relayed items were received through a hub: look for the relay path too.
        for hub in sorted(catalog.schemes.parties - {party, item.originator}):
            agreement, _, _ = governing_agreement(request, catalog, item.originator, party, item.classification,
                                                  item.topics, hub)
            if agreement is not None:
                break
    if agreement is None:
        problems += path_problems
    return agreement, problems


def decide_read(request: Request, catalog: Catalog) -> Decision:
    item, party = request.item, request.subject.party
    marking = _held_marking(request)
    tier = _tier(catalog, marking) if marking else _tier(catalog, item.classification)
    problems = subject_problems(request, catalog, tier, HUMANS, item.topics)
    agreement = None
    if item.originator != party:
        agreement, more = foreign_item_problems(request, catalog)
        problems += more
    elif request.purpose is not None and item.purpose and request.purpose != item.purpose:
        problems.append(("R6.b", f"the item is for {item.purpose!r}, not {request.purpose!r}."))
    if problems:
        return _deny(problems, agreement)
    copy = request.action in (Action.COPY, Action.TRANSLATE)
    rules = ("R7.2", "R4.4", "R6.b") + (("R4.5", "Art.16") if copy else ())
    verb = {Action.COPY: "copy", Action.TRANSLATE: "translate"}.get(request.action, "read")
    tail = " The derivative carries the same markings (R4.5)." if copy else ""
    return _allow(rules, agreement, f"{request.subject.id or 'The official'} may {verb} it: cleared to"
                  f" {request.subject.clearance} with need-to-know for {', '.join(sorted(item.topics))}.{tail}")


def decide_disclose(request: Request, catalog: Catalog) -> Decision:
    item, party, to = request.item, request.subject.party, request.recipient
    marking = _held_marking(request)
    tier = _tier(catalog, marking) if marking else _tier(catalog, item.classification)
    problems = subject_problems(request, catalog, tier, RELEASERS | OFFICERS, item.topics)
    if to is None:
        return _deny(problems + [("G1", "a disclosure must name its recipient party.")])
    if item.originator == party:
        problems.append(("G2", f"{party}'s own item goes to partners by release, not disclosure."))
        return _deny(problems)
    if to == item.originator:
        problems.append(("G2", "returning an item to its originator is a return (R6.h), not a disclosure."))
    agreement, more = foreign_item_problems(request, catalog)
    problems += more
    problems += consent_problems(request, item.originator, to, "R6.a")
    onward, _, path_problems = (None, None, []) if marking is None else governing_agreement(
        request, catalog, party, to, marking, item.topics, None)
    problems += path_problems
    if problems:
        return _deny(problems, onward or agreement)
    return _allow(("R6.a", "R7.2", "R4.4"), onward, f"{party} may disclose it to {to}: {item.originator}"
                  f" consented in writing, and {onward.id if onward else ''} covers the path.")


def decide_relay(request: Request, catalog: Catalog) -> Decision:
    item, hub, to = request.item, request.subject.party, request.recipient
    if to is None:
        return _deny([("G1", "a relay must name the final recipient party.")])
    problems: list[Problem] = []
    if request.via is not None and request.via != hub:
        problems.append(("G2", f"only {request.via}'s node relays through {request.via}."))
    equivalent_here = _held_marking(request)
    tier = _tier(catalog, equivalent_here or item.classification)
    problems += subject_problems(request, catalog, tier, HUB_OPERATORS, None)
    if hub not in item.releasable_to:
        problems.append(("G1", f"{hub} is not in the item's releasability: it should never have held it."))
    if to not in item.releasable_to:
        problems.append(("G1", f"{to} is not in the item's releasability (REL TO"
                               f" {', '.join(sorted(item.releasable_to)) or 'none'})."))
    agreement, relay, path_problems = governing_agreement(request, catalog, item.originator, to,
                                                          item.classification, item.topics, hub)
    problems += path_problems
    if relay is not None:
        rule = agreement.rule("relay_consent") if agreement else "T5"
        problems += consent_problems(request, relay.consent_by, to, rule)
    if problems:
        return _deny(problems, agreement)
    assert agreement is not None
    hub_marking = agreement.equivalent(item.classification, hub)
    approver = relay.consent_by if relay else item.originator
    return _allow(("T4", "T5", "T6", "R21.1"), agreement,
                  f"{hub} may pass {item.originator}'s item to {to} under {agreement.id}: {approver}"
                  f" approved it in writing; {hub} holds it as {hub_marking} meanwhile.")


def decide_reclassify(request: Request, catalog: Catalog) -> Decision:
    item, party, new = request.item, request.subject.party, request.new_classification
    problems: list[Problem] = []
    if item.originator != party:
        problems.append(("R6.g", f"only the provider {item.originator} may change the classification; {party}"
                                 " updates its marking when the written notice arrives."))
        return _deny(problems)
    if new is None or new.party != party:
        problems.append(("R6.g", f"the new classification must be a {party} marking."))
        return _deny(problems)
    tier = max(_tier(catalog, item.classification), _tier(catalog, new))
    problems += subject_problems(request, catalog, tier, OFFICERS, item.topics)
    if problems:
        return _deny(problems)
    return _allow(("R6.g", "R7.2"), None, f"{party} may reclassify it from {item.classification} to {new};"
                  " every holder must be notified in writing (R6.g).")


def decide_destroy(request: Request, catalog: Catalog) -> Decision:
    marking = _held_marking(request)
    item = request.item
    problems = subject_problems(request, catalog, _tier(catalog, marking or item.classification), OFFICERS, None)
    if marking is None:
        problems.append(("R4.4", "the item is not marked under this party's scheme."))
    if problems:
        return _deny(problems)
    return _allow(("R6.h", "Art.13", "R21.4"), None, "It may be destroyed by a method that prevents"
                  " reconstruction, with a record of destruction sent to the originator (Art. 13).")


HANDLERS: dict[Action, Callable[[Request, Catalog], Decision]] = {
    Action.ORIGINATE: decide_originate,
    Action.RELEASE: decide_release,
    Action.RECEIVE: decide_receive,
    Action.READ: decide_read,
    Action.COPY: decide_read,
    Action.TRANSLATE: decide_read,
    Action.DISCLOSE: decide_disclose,
    Action.RELAY: decide_relay,
    Action.RECLASSIFY: decide_reclassify,
    Action.DESTROY: decide_destroy,
}


def decide(request: Request, catalog: Catalog) -> Decision:
    """Allowed only when every check passes; reasons for every failing check otherwise."""
    handler = HANDLERS.get(request.action)
    if handler is None:
        return _deny([("G0", f"the policy knows no action {request.action!r}: denied by default.")])
    return handler(request, catalog)


def decide_many(requests: list[Request], catalog: Catalog) -> list[Decision]:
    """Many requests at once (a stream to many recipients, a what-if sweep): one dispatch table lookup each."""
    handlers = HANDLERS
    return [handlers[r.action](r, catalog) for r in requests]


# --- the peer protocol ---------------------------------------------------------------------------


def decide_peer(party: str, sender: str, at: datetime, catalog: Catalog) -> Decision:
    """May this node take messages from `sender`'s node at all? Only once an agreement between them has
    entered into force; after it ends, obligations survive (R21.4: returns, destruction certificates,
    compromise reports go on), while every new item is still decided on its own."""
    agreements = catalog.between(party, sender)
    if not agreements:
        return _deny([("G3", f"no agreement binds {party} and {sender}: nothing passes between their nodes.")])
    statuses = [catalog.status(a, at) for a in agreements]
    if all(s.state is State.NOT_YET_IN_FORCE for s in statuses):
        return _deny([("R21.1", f"no agreement between {party} and {sender} is in force yet on {statuses[0].on}.")])
    live = next((a for a, s in zip(agreements, statuses, strict=True) if s.in_force), None)
    if live is not None:
        return _allow(("R21.1",), live, f"{live.id} binds {party} and {sender} and is in force.")
    return _allow(("R21.4",), agreements[0], f"the agreements between {party} and {sender} have ended; their"
                  " obligations survive (R21.4), so notices about items held go on.")


def decide_unreadable(kind: str, problem: str) -> Decision:
    """A message from a partner that cannot be understood is refused, for good: no retry will make it
    readable, and nothing is done on a guess (G4, our own rule)."""
    return _deny([("G4", f"the {kind} message cannot be understood: {problem}.")])
