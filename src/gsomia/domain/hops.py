"""What the audit trail keeps of the missile-warning feed's per-hop decisions, as plain data.

Every message is decided per recipient at every hop of the feed (release, relay, receive, read). The
feed's gates count what each cached decision was applied to, and hand over one `HopDecisions` per gate,
stream and decision per interval (`gsomia.feed.hop_audit`); the node's audit trail keeps one entry for
each (`gsomia.services.feed_audit`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HopDecisions:
    """One decision of one gate about one stream, and what it was applied to over an interval."""

    action: str                  # release | relay | receive | read
    actor: str                   # the official the policy was asked about (a releaser, the node, a reader)
    stream: str
    counterpart: str             # the other side of the hop: "to JPN", "from KOR", "reader jpn-watch"
    allowed: bool
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    agreement: str | None
    count: int                   # messages it was applied to in the interval (0: the decision alone)
    first_seq: int
    last_seq: int
    since: float                 # the interval, POSIX seconds
    until: float

    def summary(self) -> str:
        """The entry's last reason: what the decision was applied to, never any content."""
        if self.count == 0:
            return f"{self.counterpart}; decided at seq {self.first_seq}"
        return (f"{self.counterpart}; {self.count} message{'s' if self.count != 1 else ''},"
                f" seq {self.first_seq}-{self.last_seq}")
