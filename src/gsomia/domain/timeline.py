"""An agreement's life as a timeline: the spans of its condition (not yet in force, in force, notice pending,
notice suspended, terminated) and the marks where something happened (entry into force, renewals, each
notice's changes of state, termination), read from `life.status_on` alone.

The dates where the condition can change are the agreement's own (signature, notifications, its term's
boundaries) and every date a notice carries, whatever its fields are called; the condition and each
notice's state are asked of `status_on` there. So a notice recorded later, or a new kind of change to a
notice, shows without this module knowing of it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta

from gsomia.domain.agreements import Agreement
from gsomia.domain.life import (
    NoticeState,
    State,
    Status,
    add_years,
    entry_into_force,
    notice_deadline,
    status_on,
    term_boundaries,
    termination_date,
)

RENEWAL = "renewal"
ENTRY = "entry_into_force"
TERMINATED = "terminated"
DEADLINE = "notice_deadline"


@dataclass(frozen=True, slots=True)
class Span:
    start: date
    end: date                 # exclusive
    condition: str            # as Status.condition: in_force, in_force_notice_pending, ...


@dataclass(frozen=True, slots=True)
class Mark:
    on: date
    kind: str                 # entry_into_force | renewal | notice_<state> | terminated | notice_deadline
    text: str


@dataclass(frozen=True, slots=True)
class Timeline:
    agreement: str
    start: date
    end: date                 # the horizon: a year past today (or past the last event)
    today: date
    spans: tuple[Span, ...]
    marks: tuple[Mark, ...]

    def episode(self, margin_days: int = 120) -> tuple[date, date] | None:
        """The stretch of its notices (given to their last change), with a margin: where a closer look helps."""
        notices = [m.on for m in self.marks if m.kind.startswith("notice_") and m.kind != DEADLINE]
        if not notices:
            return None
        return min(notices) - timedelta(days=margin_days), max(notices) + timedelta(days=margin_days)


def timeline(agreement: Agreement, today: date, *, horizon_days: int = 365) -> Timeline:
    life = agreement.life
    start = entry_into_force(life, agreement.parties)
    first = min([life.signed] + ([start] if start else []))
    notice_dates = {value for notice in agreement.notices for f in fields(notice)
                    if isinstance(value := getattr(notice, f.name), date)}
    end = max([today] + sorted(notice_dates)) + timedelta(days=horizon_days)
    candidates = {first, today} | notice_dates | {d for d in life.notifications.values()}
    boundaries: list[date] = []
    if start is not None:
        candidates.add(start)
        if life.term_years > 0:
            boundary, step = term_boundaries(life, start)
            n = 0
            while boundary < end and n < 1000:
                boundaries.append(boundary)
                n += 1
                boundary = add_years(add_years(start, life.term_years), n * step)
    statuses = {d: status_on(agreement, d) for d in sorted(candidates | set(boundaries)) if first <= d < end}
    for status in list(statuses.values()):
        for notice in status.notices:
            effective = notice.takes_effect_on
            if effective is not None and first <= effective < end and effective not in statuses:
                statuses[effective] = status_on(agreement, effective)
    days = sorted(statuses)
    spans: list[Span] = []
    for day, following in zip(days, days[1:] + [end], strict=True):
        condition = statuses[day].condition
        if spans and spans[-1].condition == condition:
            spans[-1] = Span(spans[-1].start, following, condition)
        else:
            spans.append(Span(day, following, condition))
    marks = _marks(statuses, days, boundaries)
    if start is not None and life.term_years > 0:
        for given in agreement.notices:  # the deadline each notice of termination had to meet (R21.3)
            met = notice_deadline(life, termination_date(life, start, given.given))
            marks.append(Mark(met, DEADLINE, f"notice deadline {met.isoformat()} (R21.3)"))
    deadline = status_on(agreement, today).notice_deadline
    if deadline is not None:
        marks.append(Mark(deadline, DEADLINE, f"next notice deadline {deadline.isoformat()} (R21.3)"))
    return Timeline(agreement.id, first, end, today, tuple(spans), tuple(sorted(marks, key=lambda m: m.on)))


def _marks(statuses: dict[date, Status], days: list[date],
           boundaries: list[date]) -> list[Mark]:
    marks: list[Mark] = []
    previous_state: State | None = None
    previous_notices: dict[str, NoticeState] = {}
    for day in days:
        status = statuses[day]
        if status.state is not previous_state:
            if status.state is State.IN_FORCE and previous_state is not State.IN_FORCE:
                marks.append(Mark(day, ENTRY, f"in force {day.isoformat()} (R21.1)"))
            elif status.state is State.TERMINATED:
                marks.append(Mark(day, TERMINATED, f"terminated {day.isoformat()} (R21.4)"))
            previous_state = status.state
        for notice in status.notices:
            state = notice.state
            if previous_notices.get(notice.notice.id) is not state:
                verb = "given" if state is NoticeState.PENDING and notice.notice.id not in previous_notices \
                    else state.value.replace("_", " ")
                marks.append(Mark(day, f"notice_{state.value}", f"{notice.notice.by} {notice.notice.kind} notice "
                                                                 f"{verb} {day.isoformat()}"))
                previous_notices[notice.notice.id] = state
    in_force = {d for d in boundaries if d in statuses and statuses[d].state is State.IN_FORCE}
    marks += [Mark(d, RENEWAL, f"renewed {d.isoformat()} (R21.3)") for d in sorted(in_force)]
    return marks
