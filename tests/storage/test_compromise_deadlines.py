"""R17.1's deadlines as a compromise report states them: the first notice is owed to the providing party,
so a report about one's own item owes none, while its investigation's result keeps its deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gsomia.storage.exchange import CompromiseReport

REPORTED = datetime(2026, 3, 1, 9, tzinfo=UTC)


def report(originator: str, reporter: str = "KOR", **done: object) -> CompromiseReport:
    return CompromiseReport("report-1", "sent", originator, "ref", reporter, "lost on a laptop", REPORTED,
                            REPORTED + timedelta(hours=24), REPORTED + timedelta(days=30), **done)  # type: ignore[arg-type]


def test_R17_1_a_partners_item_owes_the_first_notice_and_the_result() -> None:
    assert report("JPN").overdue(REPORTED + timedelta(hours=1)) == []
    assert report("JPN").overdue(REPORTED + timedelta(days=2)) == ["first notice"]
    assert report("JPN", notified_at=REPORTED).overdue(REPORTED + timedelta(days=31)) == ["investigation result"]


def test_R17_1_our_own_item_owes_no_notice_but_keeps_the_results_deadline() -> None:
    own = report("KOR")
    assert not own.notice_owed and report("JPN").notice_owed
    assert own.overdue(REPORTED + timedelta(days=2)) == []
    assert own.overdue(REPORTED + timedelta(days=31)) == ["investigation result"]
