"""The life of an agreement as a pure function of time (Art. 21).

Dates in an agreement are local to its time zone; an instant is turned into that local date first.
A day `d` is in force when `entry_into_force <= d < terminates_on`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from gsomia.domain.agreements import Agreement, Life, Notice


class State(str, enum.Enum):
    NOT_YET_IN_FORCE = "not_yet_in_force"
    IN_FORCE = "in_force"
    TERMINATED = "terminated"


class NoticeState(str, enum.Enum):
    NOT_GIVEN = "not_given"
    PENDING = "pending"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    EFFECTIVE = "effective"


@dataclass(frozen=True, slots=True)
class NoticeStatus:
    notice: Notice
    state: NoticeState
    takes_effect_on: date | None   # the first day the agreement would no longer be in force


@dataclass(frozen=True, slots=True)
class Status:
    agreement: str
    on: date                           # the local date evaluated
    state: State
    entered_into_force: date | None
    terminates_on: date | None         # first day out of force, if termination is fixed
    term_ends: date | None             # last day of the current term (renewal the day after)
    notice_deadline: date | None       # last day a notice can end the current term
    notices: tuple[NoticeStatus, ...]
    obligations_survive: bool          # R21.4: held items stay protected after termination

    @property
    def in_force(self) -> bool:
        return self.state is State.IN_FORCE

    @property
    def condition(self) -> str:
        """One of: not_yet_in_force, in_force, in_force_notice_pending, in_force_notice_suspended, terminated."""
        if self.state is not State.IN_FORCE:
            return str(self.state.value)
        states = {n.state for n in self.notices}
        if NoticeState.PENDING in states:
            return "in_force_notice_pending"
        if NoticeState.SUSPENDED in states:
            return "in_force_notice_suspended"
        return "in_force"


def entry_into_force(life: Life, parties: frozenset[str]) -> date | None:
    """R21.1: the later of the parties' written notifications; None until every party has notified."""
    if life.entry_into_force is not None:
        return life.entry_into_force
    if not parties or not parties <= life.notifications.keys():
        return None
    return max(life.notifications[p] for p in parties)


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February into a common year: the term ends with February
        return d.replace(year=d.year + years, day=28)


def term_boundaries(life: Life, start: date) -> tuple[date, int]:
    """First renewal boundary (first day of the second term) and the years between later ones."""
    return add_years(start, life.term_years), max(life.renewal_years, 1)


def notice_deadline(life: Life, boundary: date) -> date:
    """R21.3: the last day a notice can be given to end the term that ends the day before `boundary`."""
    reference = boundary - timedelta(days=1) if life.notice_reference == "last_day_of_term" else boundary
    return reference - timedelta(days=life.notice_days)


def natural_end(life: Life, start: date) -> date | None:
    """A fixed term without automatic renewal ends by itself."""
    if life.term_years > 0 and not life.auto_renew:
        return add_years(start, life.term_years)
    return None


def termination_date(life: Life, start: date, given: date) -> date:
    """When a termination notice given on `given` takes effect (first day out of force)."""
    if life.term_years <= 0:
        return given + timedelta(days=life.notice_days)
    boundary, step = term_boundaries(life, start)
    n = 0
    while notice_deadline(life, boundary) < given:
        n += 1
        boundary = add_years(add_years(start, life.term_years), n * step)
    return boundary


def notice_effective_on(life: Life, start: date, notice: Notice) -> date | None:
    if notice.kind != "termination":
        return None
    planned = termination_date(life, start, notice.given)
    effective: date | None
    if notice.suspended is None or notice.suspended >= planned:
        effective = planned
    elif notice.resumed is not None:
        # Lifting a suspension lets the notice take effect at once if its date has passed.
        effective = max(planned, notice.resumed)
    else:
        effective = None
    if notice.withdrawn is not None and (effective is None or notice.withdrawn < effective):
        effective = None
    return effective


def known_on(notice: Notice, on: date) -> Notice:
    """The notice as it stood on `on`: later suspensions, resumptions and withdrawals not yet made."""
    def seen(d: date | None) -> date | None:
        return d if d is not None and d <= on else None

    return replace(notice, suspended=seen(notice.suspended), resumed=seen(notice.resumed),
                   withdrawn=seen(notice.withdrawn))


def notice_state(notice: Notice, effective_on: date | None, on: date) -> NoticeState:
    if on < notice.given:
        return NoticeState.NOT_GIVEN
    if effective_on is not None and on >= effective_on:
        return NoticeState.EFFECTIVE
    if notice.withdrawn is not None and on >= notice.withdrawn:
        return NoticeState.WITHDRAWN
    if notice.suspended is not None and on >= notice.suspended and (notice.resumed is None or on < notice.resumed):
        return NoticeState.SUSPENDED
    return NoticeState.PENDING


def local_date(agreement: Agreement, at: datetime) -> date:
    return at.astimezone(agreement.timezone).date()


def status_on(agreement: Agreement, on: date) -> Status:
    """The agreement's status on a local date."""
    life = agreement.life
    start = entry_into_force(life, agreement.parties)
    if start is None or on < start:
        return Status(agreement.id, on, State.NOT_YET_IN_FORCE, start, None, None, None, (), False)
    ends = [d for d in (natural_end(life, start),) if d is not None]
    notices = []
    for recorded in agreement.notices:
        if on < recorded.given:
            continue
        notice = known_on(recorded, on)
        effective = notice_effective_on(life, start, notice)
        notices.append(NoticeStatus(recorded, notice_state(notice, effective, on), effective))
        if effective is not None:
            ends.append(effective)
    terminates_on = min(ends) if ends else None
    state = State.TERMINATED if terminates_on is not None and on >= terminates_on else State.IN_FORCE
    term_ends = deadline = None
    if state is State.IN_FORCE and life.term_years > 0:
        boundary, step = term_boundaries(life, start)
        n = 0
        while boundary <= on:
            n += 1
            boundary = add_years(add_years(start, life.term_years), n * step)
        term_ends = boundary - timedelta(days=1)
        deadline = notice_deadline(life, boundary) if life.auto_renew else None
    return Status(agreement.id, on, state, start, terminates_on, term_ends, deadline, tuple(notices), True)


def status_at(agreement: Agreement, at: datetime) -> Status:
    return status_on(agreement, local_date(agreement, at))
