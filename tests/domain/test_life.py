"""The life of an agreement (Art. 21) as a pure function of time, from the shipped data."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from domain_builders import CATALOG

from gsomia.domain.agreements import Life, Notice
from gsomia.domain.life import NoticeState, State, entry_into_force, status_at, status_on, termination_date

GSOMIA = CATALOG.agreement("jpn-kor-gsomia-2016")


def kst(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}T12:00:00+09:00")


@pytest.mark.parametrize(("day", "condition", "notice"), [
    ("2016-11-22", "not_yet_in_force", None),
    ("2016-11-23", "in_force", None),
    ("2019-08-22", "in_force", None),                                   # decided, not yet delivered
    ("2019-08-23", "in_force_notice_pending", NoticeState.PENDING),     # written notice delivered
    ("2019-11-21", "in_force_notice_pending", NoticeState.PENDING),
    ("2019-11-22", "in_force_notice_suspended", NoticeState.SUSPENDED),  # hours before expiry
    ("2019-11-23", "in_force_notice_suspended", NoticeState.SUSPENDED),  # the day it would have ended
    ("2021-06-01", "in_force_notice_suspended", NoticeState.SUSPENDED),
    ("2023-03-21", "in_force", NoticeState.WITHDRAWN),                  # both notes withdrawn
    ("2026-11-22", "in_force", NoticeState.WITHDRAWN),
])
def test_the_2019_to_2023_episode_comes_out_of_the_data(day: str, condition: str, notice: NoticeState | None) -> None:
    status = status_at(GSOMIA, kst(day))
    assert status.condition == condition
    assert [n.state for n in status.notices] == ([notice] if notice else [])


def test_on_2019_11_23_in_force_with_a_suspended_notice() -> None:
    status = status_at(GSOMIA, kst("2019-11-23"))
    assert status.in_force and status.state is State.IN_FORCE
    assert status.terminates_on is None
    assert status.notices[0].notice.by == "KOR"


def test_while_pending_the_2019_notice_would_end_the_agreement_on_23_november() -> None:
    assert status_at(GSOMIA, kst("2019-09-01")).terminates_on == date(2019, 11, 23)


def test_R21_1_entry_into_force_is_the_later_notification() -> None:
    life = replace(GSOMIA.life, notifications={"JPN": date(2016, 11, 23), "KOR": date(2016, 12, 2)})
    assert entry_into_force(life, GSOMIA.parties) == date(2016, 12, 2)
    only_one = replace(GSOMIA.life, notifications={"JPN": date(2016, 11, 23)})
    assert entry_into_force(only_one, GSOMIA.parties) is None
    assert status_on(replace(GSOMIA, life=only_one, notices=()), date(2030, 1, 1)).state is State.NOT_YET_IN_FORCE


def test_R21_3_renews_each_anniversary_and_the_deadline_is_24_august() -> None:
    status = status_at(GSOMIA, kst("2019-06-01"))
    assert status.term_ends == date(2019, 11, 22)
    assert status.notice_deadline == date(2019, 8, 24)
    assert status_at(GSOMIA, kst("2019-11-23")).term_ends == date(2020, 11, 22)


@pytest.mark.parametrize(("given", "ends"), [
    (date(2019, 8, 23), date(2019, 11, 23)),
    (date(2019, 8, 24), date(2019, 11, 23)),   # the last day: 90 days before the term's last day
    (date(2019, 8, 25), date(2020, 11, 23)),   # too late: the agreement renews once more
])
def test_R21_3_a_late_notice_ends_the_following_term(given: date, ends: date) -> None:
    assert termination_date(GSOMIA.life, date(2016, 11, 23), given) == ends


def test_R21_3_the_day_count_convention_is_a_parameter() -> None:
    anniversary = replace(GSOMIA.life, notice_reference="anniversary")
    assert termination_date(anniversary, date(2016, 11, 23), date(2019, 8, 25)) == date(2019, 11, 23)
    assert termination_date(anniversary, date(2016, 11, 23), date(2019, 8, 26)) == date(2020, 11, 23)
    longer = replace(GSOMIA.life, notice_days=120)
    assert termination_date(longer, date(2016, 11, 23), date(2019, 8, 23)) == date(2020, 11, 23)


def test_R21_4_an_unsuspended_notice_terminates_and_obligations_survive() -> None:
    ended = replace(GSOMIA, notices=(Notice("n", "termination", "KOR", date(2019, 8, 23)),))
    before, after = status_on(ended, date(2019, 11, 22)), status_on(ended, date(2019, 11, 23))
    assert before.condition == "in_force_notice_pending"
    assert after.state is State.TERMINATED and after.notices[0].state is NoticeState.EFFECTIVE
    assert after.obligations_survive


def test_lifting_a_suspension_after_the_date_terminates_at_once() -> None:
    resumed = replace(GSOMIA, notices=(Notice("n", "termination", "KOR", date(2019, 8, 23),
                                              suspended=date(2019, 11, 22), resumed=date(2020, 3, 1)),))
    assert status_on(resumed, date(2020, 2, 29)).condition == "in_force_notice_suspended"
    assert status_on(resumed, date(2020, 3, 1)).state is State.TERMINATED


def test_local_date_decides_at_midnight_seoul_time() -> None:
    # 23 Nov 2016 00:30 in Seoul is still 22 Nov in UTC.
    assert status_at(GSOMIA, datetime(2016, 11, 22, 15, 30, tzinfo=timezone.utc)).in_force
    assert not status_at(GSOMIA, datetime(2016, 11, 22, 14, 30, tzinfo=timezone.utc)).in_force


def test_open_ended_agreement_terminates_notice_days_after_notice() -> None:
    life = Life(signed=date(2000, 1, 1), signed_by=frozenset({"A", "B"}), notifications={},
                entry_into_force=date(2000, 1, 1), notice_days=90)
    assert termination_date(life, date(2000, 1, 1), date(2010, 1, 1)) == date(2010, 4, 1)


def test_tisa_is_in_force_from_signature_and_not_binding() -> None:
    tisa = CATALOG.agreement("usa-jpn-kor-tisa-2014")
    assert not tisa.binding                                                # T7
    assert tisa.rides_on == ("usa-kor-gsomia-1987", "usa-jpn-gsomia-2007")  # T3
    assert not status_at(tisa, datetime(2014, 12, 28, tzinfo=timezone.utc)).in_force
    assert status_at(tisa, datetime(2014, 12, 29, 12, tzinfo=timezone.utc)).in_force
