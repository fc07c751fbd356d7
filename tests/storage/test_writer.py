"""The node's writer (storage/writer.py): use cases waiting together share one transaction and one
durable commit; one that fails leaves nothing while the others keep theirs; a failed commit fails them
all; callers hear only once the commit is on stable storage; reads see only what is committed.

The writer is held up by a first use case waiting on a gate, so that what is queued behind it is
known to wait together: the batching is then exact, not a matter of timing. Both backends."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Column, Engine, ForeignKey, Integer, MetaData, Table, event, func, select
from sqlalchemy.exc import IntegrityError

from gsomia.services import audit
from gsomia.services.audit_log import EntryDraft, append
from gsomia.services.context import Actor, Node
from gsomia.storage import Store, open_engine, open_store, upgrade_to_head
from gsomia.storage.exchange import PENDING, Enqueued, OutboxMessage
from gsomia.storage.group_commit import WalFlusher
from gsomia.storage.writer import WriterClosed

T = TypeVar("T")


def note(store: Store, subject: str) -> int:
    """A use case: one audit entry; returns its seq."""
    with store.unit_of_work() as uow:
        return append(uow, datetime.now(timezone.utc), [EntryDraft("t", "test", "test.note", subject, None)]).last_seq


def note_then_fail(store: Store, subject: str) -> int:
    with store.unit_of_work() as uow:
        append(uow, datetime.now(timezone.utc), [EntryDraft("t", "test", "test.note", subject, None)])
        raise ValueError(f"{subject} failed after writing")


def subjects(store: Store) -> list[str | None]:
    with store.unit_of_work(readonly=True) as uow:
        return [e.subject for e in uow.audit.tail(1000)]


def commits_of(engine: Engine) -> list[int]:
    counted = [0]
    event.listen(engine, "commit", lambda _conn: counted.__setitem__(0, counted[0] + 1))
    return counted


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):  # bounded: 10 s
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the writer did not get there")


async def hold_the_writer(store: Store) -> tuple[threading.Event, asyncio.Future[bool]]:
    """A use case that waits on a gate, once the writer is inside it (nothing else can join its batch)."""
    entered, gate = threading.Event(), threading.Event()

    def gatekeeper() -> bool:
        entered.set()
        return gate.wait(10)

    held = asyncio.ensure_future(store.writer.run(gatekeeper))
    await until(entered.is_set)
    return gate, held


async def behind_a_gate(store: Store, calls: list[Callable[[], Awaitable[T]]]) -> list[T | BaseException]:
    """Hold the writer on a first use case until every call is queued, then let them run."""
    gate, held = await hold_the_writer(store)
    waiting = [asyncio.ensure_future(call()) for call in calls]
    await until(lambda: store.writer.waiting >= len(calls))
    gate.set()
    assert await held is True
    return await asyncio.gather(*waiting, return_exceptions=True)


def test_use_cases_waiting_together_share_one_commit(ctx: Node, engine: Engine, officer: Actor) -> None:
    store = ctx.store
    commits = commits_of(engine)
    results = asyncio.run(behind_a_gate(store, [lambda n=n: store.writer.run(note, store, f"n{n}")
                                                for n in range(40)]))
    first = results[0]
    assert isinstance(first, int)
    assert results == list(range(first, first + 40))  # in the order they were queued
    assert commits[0] == 2  # the gate's batch, then all forty together
    assert subjects(store)[-40:] == [f"n{n}" for n in range(40)]
    assert audit.verify_store(ctx, officer, check_signature=None).ok


def test_a_use_case_on_the_writer_knows_its_unit_of_work_is_a_savepoint_of_the_batch(ctx: Node) -> None:
    def in_batch(store: Store) -> bool:
        with store.unit_of_work() as uow:
            return uow.in_batch

    assert in_batch(ctx.store) is False  # alone: its own transaction, committed when the block ends
    assert asyncio.run(ctx.store.writer.run(in_batch, ctx.store)) is True


def test_a_failing_use_case_leaves_nothing_and_the_others_keep_theirs(ctx: Node, officer: Actor) -> None:
    store = ctx.store
    results = asyncio.run(behind_a_gate(store, [
        lambda: store.writer.run(note, store, "before"),
        lambda: store.writer.run(note_then_fail, store, "failing"),
        lambda: store.writer.run(note, store, "after")]))
    assert isinstance(results[1], ValueError)
    assert results[2] == results[0] + 1  # type: ignore[operator]  # the failed entry's seq is not used up
    assert subjects(store)[-2:] == ["before", "after"]
    assert audit.verify_store(ctx, officer, check_signature=None).ok  # the chain runs on over the gap


def family(database: tuple[str, str | None]) -> tuple[Store, Table, Table]:
    """A store over two tables of our own: a child's parent is checked only at COMMIT."""
    url, schema = database
    engine = open_engine(url, schema=schema)
    tables = MetaData()
    parent = Table("parent", tables, Column("id", Integer, primary_key=True))
    child = Table("child", tables, Column("id", Integer, primary_key=True),
                  Column("parent", Integer, ForeignKey("parent.id", deferrable=True, initially="DEFERRED")))
    tables.create_all(engine)
    return Store(engine), parent, child


def insert(store: Store, table: Table, **row: Any) -> int:
    with store.unit_of_work() as uow:
        uow.connection.execute(table.insert().values(**row))
    return 1


def test_a_database_error_in_one_use_case_leaves_the_batch_usable(database: tuple[str, str | None]) -> None:
    store, parent, _ = family(database)
    results = asyncio.run(behind_a_gate(store, [
        lambda: store.writer.run(insert, store, parent, id=1),
        lambda: store.writer.run(insert, store, parent, id=1),  # a duplicate key: the database refuses it
        lambda: store.writer.run(insert, store, parent, id=2)]))
    assert results[0] == 1 and results[2] == 1
    assert isinstance(results[1], IntegrityError)
    with store.engine.connect() as conn:
        assert sorted(conn.execute(select(parent.c.id)).scalars()) == [1, 2]
    store.dispose()


def test_a_failed_commit_fails_every_use_case_of_the_batch(database: tuple[str, str | None]) -> None:
    store, parent, child = family(database)
    engine = store.engine
    results = asyncio.run(behind_a_gate(store, [
        lambda: store.writer.run(insert, store, parent, id=1),
        lambda: store.writer.run(insert, store, child, id=1, parent=99)]))  # checked only at COMMIT
    assert all(isinstance(r, Exception) and "FOREIGN KEY" in str(r).upper() for r in results), results
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(parent)).scalar() == 0
    assert asyncio.run(store.writer.run(insert, store, parent, id=2)) == 1  # the writer carries on
    store.dispose()


class OrderedFlusher(WalFlusher):
    """Logs when commits are written and when fsyncs end."""

    def __init__(self, database_path: str | Path, log: list[str]) -> None:
        super().__init__(database_path)
        self.log = log

    def committed(self) -> int:
        self.log.append("commit written")
        return super().committed()

    def _fsync_wal(self) -> None:
        super()._fsync_wal()
        self.log.append("fsync done")


def test_callers_hear_only_once_the_commit_is_durable(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade_to_head(store.engine)
    log: list[str] = []
    store._flusher = OrderedFlusher(tmp_path / "node.db", log)  # noqa: SLF001 — observe the store's own flusher

    async def noted(subject: str) -> None:
        await store.writer.run(note, store, subject)
        log.append(f"{subject} answered")

    asyncio.run(behind_a_gate(store, [lambda: noted("a"), lambda: noted("b")]))
    assert log == ["commit written", "fsync done",  # the gate's batch
                   "commit written", "fsync done", "a answered", "b answered"]
    store.dispose()


def test_reads_see_only_committed_writes(ctx: Node) -> None:
    store = ctx.store

    def count() -> int:
        with store.unit_of_work(readonly=True) as uow:
            return uow.audit.head()[0]

    before = count()
    results = asyncio.run(behind_a_gate(store, [lambda: store.writer.run(note, store, "x"),
                                                lambda: store.writer.read(count)]))
    assert results == [before + 1, before]  # queued together, the read did not see the uncommitted write
    assert asyncio.run(store.writer.read(count)) == before + 1


def test_a_caller_that_goes_away_leaves_its_work_done_and_the_writer_running(ctx: Node) -> None:
    store = ctx.store

    async def scenario() -> None:
        gate, held = await hold_the_writer(store)
        impatient = asyncio.ensure_future(store.writer.run(note, store, "abandoned"))
        await until(lambda: store.writer.waiting >= 1)
        impatient.cancel()  # its client disconnected
        gate.set()
        await held
        assert await store.writer.run(note, store, "next") > 0

    asyncio.run(scenario())
    assert subjects(store)[-2:] == ["abandoned", "next"]


def test_a_closed_writer_runs_what_was_queued_and_refuses_the_rest(ctx: Node) -> None:
    store = ctx.store

    async def scenario() -> None:
        gate, held = await hold_the_writer(store)
        queued = [asyncio.ensure_future(store.writer.run(note, store, f"q{n}")) for n in range(5)]
        await until(lambda: store.writer.waiting >= 5)
        closing = asyncio.ensure_future(asyncio.to_thread(store.writer.close))
        gate.set()
        await closing
        assert await held is True
        assert len(await asyncio.gather(*queued)) == 5
        with pytest.raises(WriterClosed):
            await store.writer.run(note, store, "late")

    asyncio.run(scenario())
    assert subjects(store)[-5:] == [f"q{n}" for n in range(5)]


def enqueue_note(store: Store, subject: str, item_id: str | None = None, fail: bool = False) -> None:
    """A use case that writes to the outbox: one audit entry and one message (then fails, if asked)."""
    now = datetime.now(timezone.utc)
    with store.unit_of_work() as uow:
        append(uow, now, [EntryDraft("t", "test", "test.note", subject, None)])
        uow.exchange.enqueue(OutboxMessage(f"msg-{subject}", "JPN", "item", item_id, b"\xa0", PENDING, 0, now, now))
        if fail:
            raise ValueError(f"{subject} failed after writing")


def test_listeners_hear_of_every_durable_outbox_write_and_cannot_undo_one(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade_to_head(store.engine)
    log: list[str] = []
    store._flusher = OrderedFlusher(tmp_path / "node.db", log)  # noqa: SLF001 — observe the store's own flusher
    stop = store.call_when_enqueued(lambda enqueued: log.extend(f"told {e.message.message_id}" for e in enqueued))

    def broken(_enqueued: list[Enqueued]) -> None:
        raise RuntimeError("the sender's loop is gone")

    store.call_when_enqueued(broken)
    enqueue_note(store, "direct")  # a unit of work outside the writer
    assert log == ["commit written", "fsync done", "told msg-direct"]
    log.clear()
    asyncio.run(store.writer.run(enqueue_note, store, "batched"))
    assert log == ["commit written", "fsync done", "told msg-batched"]
    log.clear()
    note(store, "no message")  # a write that leaves nothing to send tells nobody
    subjects(store)  # nor does reading
    assert log == ["commit written", "fsync done"]
    assert subjects(store)[-3:] == ["direct", "batched", "no message"]  # the broken listener undid nothing
    stop()
    enqueue_note(store, "unheard")
    assert not [line for line in log if line.startswith("told")]
    store.dispose()


def test_the_sender_hears_which_messages_may_leave_at_once(ctx: Node) -> None:
    """Only those first in line for their partner and item; never one whose use case was rolled back."""
    store, heard = ctx.store, list[list[Enqueued]]()
    store.call_when_enqueued(heard.append)

    async def batch() -> None:
        await asyncio.gather(store.writer.run(enqueue_note, store, "first", "item-1"),
                             store.writer.run(enqueue_note, store, "second", "item-1"),
                             store.writer.run(enqueue_note, store, "other", "item-2"),
                             store.writer.run(enqueue_note, store, "itemless"),
                             store.writer.run(enqueue_note, store, "undone", "item-3", True),
                             return_exceptions=True)

    asyncio.run(batch())
    told = {e.message.message_id: e.first_in_line for enqueued in heard for e in enqueued}
    assert told == {"msg-first": True, "msg-second": False, "msg-other": True, "msg-itemless": True}
