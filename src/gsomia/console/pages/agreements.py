"""The agreements and their lives as pictures: one timeline per agreement (entry into force, renewals,
notices and their suspension or withdrawal, termination), and a closer look at any stretch of notices (the
2019-2023 episode of the Japan-Korea GSOMIA). Drawn as SVG on the server from `domain.timeline`, itself
read from `domain.life.status_on`: a notice recorded later shows without changing this page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from gsomia.console import render
from gsomia.console.session import NodeDep, SessionDep, page_router
from gsomia.domain.timeline import Mark, Timeline, timeline
from gsomia.services import oversight

router = page_router()

WIDTH, LEFT, RIGHT = 1100.0, 20.0, 20.0
CHAR_WIDTH = 6.6  # of the labels' 12px sans-serif, on average: enough to keep them apart
CONDITIONS = {
    "not_yet_in_force": "not yet in force", "in_force": "in force",
    "in_force_notice_pending": "in force, termination notice pending",
    "in_force_notice_suspended": "in force, notice suspended", "terminated": "terminated",
}


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    condition: str
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Pin:
    x: float
    row: int          # which text row the label sits on, so that close labels do not overlap
    kind: str
    text: str
    anchor: str       # start: the label reads rightwards from the date; end: leftwards


@dataclass(frozen=True, slots=True)
class Chart:
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    renewals: tuple[float, ...]
    pins: tuple[Pin, ...]
    today: float | None
    rows: int


def chart(line: Timeline, start: date, end: date, *, renewals: bool = True, by_month: bool = False) -> Chart:
    span = max((end - start).days, 1)

    def x(on: date) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * min(max((on - start).days, 0), span) / span

    bars = tuple(Bar(x(s.start), max(x(s.end) - x(s.start), 1.0), s.condition,
                     f"{CONDITIONS.get(s.condition, s.condition)}: {s.start:%d %b %Y} – {s.end:%d %b %Y}")
                 for s in line.spans if s.end > start and s.start < end)
    if by_month:
        months = [date(y, m, 1) for y in range(start.year, end.year + 1) for m in (1, 4, 7, 10)]
        ticks = tuple(Tick(x(d), f"{d:%b %Y}") for d in months if start <= d <= end)
    else:
        step = max(1, (end.year - start.year) // 12)
        ticks = tuple(Tick(x(date(y, 1, 1)), str(y)) for y in range(start.year + 1, end.year + 1, step))
    pins = _pins([m for m in line.marks if start <= m.on <= end and m.kind != "renewal"], x)
    renewed = tuple(x(m.on) for m in line.marks if m.kind == "renewal" and start <= m.on <= end) if renewals else ()
    return Chart(bars, ticks, renewed, pins, x(line.today) if start <= line.today <= end else None,
                 max((p.row for p in pins), default=0) + 1)


def _pins(marks: list[Mark], x: Callable[[date], float]) -> tuple[Pin, ...]:
    """A label per mark, each on the first text row where it overlaps no other label (its width estimated
    from its length), written rightwards from its date, or leftwards where the chart ends."""
    pins: list[Pin] = []
    taken: list[list[tuple[float, float]]] = []
    for mark in marks:
        at = x(mark.on)
        width = len(mark.text) * CHAR_WIDTH + 10
        leftwards = at + width > WIDTH - RIGHT
        span = (at - width, at) if leftwards else (at, at + width)
        row = next((r for r, spans in enumerate(taken) if all(span[1] < a or span[0] > b for a, b in spans)),
                   len(taken))
        if row == len(taken):
            taken.append([])
        taken[row].append(span)
        pins.append(Pin(at, row, mark.kind, mark.text, "end" if leftwards else "start"))
    return tuple(pins)


@router.get("/agreements", response_class=HTMLResponse)
def agreements(request: Request, node: NodeDep, session: SessionDep) -> Response:
    today = node.clock().date()
    shown = []
    for standing in oversight.agreements_today(node):
        line = timeline(standing.agreement, today)
        episode = line.episode()
        shown.append({"standing": standing, "line": line, "chart": chart(line, line.start, line.end),
                      "episode": chart(line, *episode, renewals=True, by_month=True) if episode else None,
                      "episode_span": episode})
    return render.page(request, session, "agreements.html", title="Agreements", section="agreements",
                       shown=shown, conditions=CONDITIONS, width=WIDTH)
