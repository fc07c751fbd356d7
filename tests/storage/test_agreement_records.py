"""Storage contract for the life of agreements, the same on SQLite and PostgreSQL: events and their states,
the partners' answers and versions (a later one replaces the earlier), the generation a running node polls."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from gsomia.storage import Store
from gsomia.storage import agreements as stored
from gsomia.storage.agreements import AgreementEventRecord, EventAnswer, PeerVersion

SEOUL = timezone(timedelta(hours=9))
T0 = datetime(2026, 11, 22, 21, 0, 0, 123456, tzinfo=SEOUL)
NOTICE = AgreementEventRecord("KOR-termination-1", "jpn-kor-gsomia-2016", "termination", "KOR", date(2019, 8, 23),
                              date(2019, 8, 22), "외교부 공한 2019-08-23", None, None, "KOR", "OFF-1", T0, "d" * 64,
                              b"signed", stored.RECORDED)


def test_events_keep_their_fields_and_states(engine: Engine) -> None:
    store = Store(engine)
    amendment = replace(NOTICE, id="JPN-amendment-1", kind="amendment", by_party="JPN", given=date(2026, 11, 1),
                        decided=None, amendment='{"highest_tier": "TOP_SECRET"}', origin="JPN",
                        recorded_at=T0 + timedelta(seconds=1), state=stored.PROPOSED)
    with store.unit_of_work() as uow:
        uow.agreements.add(NOTICE)
        uow.agreements.add(amendment)
        assert uow.agreements.generation() == 0
        generation = uow.agreements.bump()
        assert generation not in (0, uow.agreements.bump())  # never the same twice (a rolled-back one neither)
        generation = uow.agreements.bump()
    with store.unit_of_work(readonly=True) as uow:
        assert uow.agreements.get(NOTICE.id) == replace(NOTICE, recorded_at=T0.astimezone(timezone.utc))
        assert [e.id for e in uow.agreements.events("jpn-kor-gsomia-2016")] == [NOTICE.id, amendment.id]
        assert uow.agreements.events("usa-kor-gsomia-1987") == []
        assert [e.id for e in uow.agreements.applied()] == [NOTICE.id]  # recorded, not proposed
        assert uow.agreements.generation() == generation
    with store.unit_of_work() as uow:
        uow.agreements.decide(amendment.id, state=stored.CONFIRMED, by="OFF-2", at=T0)
    with store.unit_of_work(readonly=True) as uow:
        confirmed = uow.agreements.get(amendment.id)
        assert confirmed is not None and confirmed.applied and confirmed.decided_by == "OFF-2"
        assert {e.id for e in uow.agreements.applied()} == {NOTICE.id, amendment.id}
    with store.unit_of_work() as uow:
        uow.agreements.decide(amendment.id, state=stored.REJECTED, by="KOR", at=T0,
                              reason="rejected by KOR: no such note")
    with store.unit_of_work(readonly=True) as uow:
        rejected = uow.agreements.get(amendment.id)
        assert rejected is not None and not rejected.applied and rejected.reason == "rejected by KOR: no such note"


def test_a_party_s_later_answer_and_version_replace_its_earlier_ones(engine: Engine) -> None:
    store = Store(engine)
    with store.unit_of_work() as uow:
        uow.agreements.add(NOTICE)
        uow.agreements.answer(EventAnswer(NOTICE.id, "JPN", True, "", T0, b"yes"))
        uow.agreements.answer(EventAnswer(NOTICE.id, "JPN", False, "not received", T0, b"no"))
        uow.agreements.set_peer_version(PeerVersion("JPN", NOTICE.agreement, "a" * 64, "b" * 64, (), T0))
        uow.agreements.set_peer_version(PeerVersion("JPN", NOTICE.agreement, "c" * 64, "b" * 64,
                                                    ((NOTICE.id, NOTICE.digest),), T0))
    with store.unit_of_work(readonly=True) as uow:
        assert uow.agreements.answers([NOTICE.id]) == [EventAnswer(NOTICE.id, "JPN", False, "not received",
                                                                   T0.astimezone(timezone.utc), b"no")]
        assert uow.agreements.answers([]) == []
        (version,) = uow.agreements.peer_versions(NOTICE.agreement)
        assert (version.digest, version.events) == ("c" * 64, ((NOTICE.id, NOTICE.digest),))


def test_what_follows_a_commit_runs_once_it_is_committed_and_never_after_a_rollback(engine: Engine) -> None:
    store = Store(engine)
    ran: list[str] = []
    with store.unit_of_work() as uow:
        uow.agreements.add(NOTICE)
        uow.on_commit(lambda: ran.append("committed"))
        assert ran == []  # not before the commit
    assert ran == ["committed"]
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.on_commit(lambda: ran.append("rolled back"))
        raise RuntimeError("the use case failed")
    with store.batch():  # the writer's batch: one savepoint fails, the other stands
        with pytest.raises(RuntimeError), store.unit_of_work() as uow:
            uow.on_commit(lambda: ran.append("its savepoint rolled back"))
            raise RuntimeError("this one failed")
        with store.unit_of_work() as uow:
            uow.on_commit(lambda: ran.append("batch committed"))
        assert ran == ["committed"]  # the batch is not committed yet
    assert ran == ["committed", "batch committed"]
