"""The node's writer: one thread runs the use cases that write, as many as are waiting in one transaction.

Under load, a server that gives each writing request its own worker thread and its own transaction
spends more on the threads than on the work: they queue on the store's single writer (SQLite) or on
the audit head's row lock (PostgreSQL), hand the interpreter lock back and forth, and pay a commit
and its fsync each. Here callers on the event loop (the officials' API, the peer endpoint, the
outbox sender) hand the use case to the writer instead and await it. The writer takes whatever is
waiting (up to MAX_BATCH), runs each use case in turn inside one transaction (`Store.batch`: a use
case's own unit of work becomes a savepoint of it, so a use case that fails leaves nothing and the
others keep theirs), commits once, waits once for that commit to be on stable storage, and only then
gives each caller its result or its error. A failed commit fails every use case of the batch.

Read jobs (`read`) run between batches, outside any transaction, so they see only what is committed
and durable: the sender never sends a message whose release could still be lost.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from gsomia.storage.unit_of_work import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")
MAX_BATCH = 64


class WriterClosed(RuntimeError):
    """The node is shutting down: the use case was not run."""


@dataclass(slots=True)
class _Job:
    call: Callable[[], Any]
    readonly: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None


class Writer:
    """Runs use cases for callers on event loops; see the module docstring. Started on first use."""

    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH) -> None:
        self._store, self._max_batch = store, max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def waiting(self) -> int:
        """How many use cases are queued and not yet taken (approximate while the writer runs)."""
        return self._jobs.qsize()

    async def run(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args, **kwargs)` in the next batch; its result once the batch is durable."""
        return await self._submit(lambda: function(*args, **kwargs), readonly=False)

    async def read(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args, **kwargs)` between batches, seeing only durable commits."""
        return await self._submit(lambda: function(*args, **kwargs), readonly=True)

    async def _submit(self, call: Callable[[], T], *, readonly: bool) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(call, readonly, loop, loop.create_future())
        self._enqueue(job)
        result: T = await job.future
        return result

    def _enqueue(self, job: _Job) -> None:
        with self._lock:  # never behind the stop sentinel: a job queued is a job run
            if self._closed:
                raise WriterClosed("the node's store is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="gsomia-writer", daemon=True)
                self._thread.start()
            self._jobs.put(job)

    def close(self) -> None:
        """Runs what is queued, then stops the thread; later submissions raise WriterClosed."""
        with self._lock:
            self._closed, thread = True, self._thread
            if thread is not None:
                self._jobs.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _work(self) -> None:
        stopping = False
        while not stopping:
            jobs: list[_Job] = []
            job = self._jobs.get()
            while job is not None:
                jobs.append(job)
                if len(jobs) >= self._max_batch:
                    break
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
            stopping = job is None
            self._run_reads([j for j in jobs if j.readonly])
            self._run_batch([j for j in jobs if not j.readonly])

    def _run_reads(self, jobs: list[_Job]) -> None:
        for job in jobs:
            _call(job)
        _hand_back(jobs)

    def _run_batch(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        try:
            with self._store.batch():
                for job in jobs:
                    _call(job)
        except Exception as failed:  # the commit (or the batch's transaction) failed: nothing was kept
            log.error("a batch of %d writes was rolled back: %s", len(jobs), failed)
            for job in jobs:
                job.error, job.result = failed, None
        _hand_back(jobs)


def _call(job: _Job) -> None:
    try:
        job.result = job.call()
    except BaseException as error:  # handed to the caller, who raises it on its own loop
        job.error = error


def _hand_back(jobs: list[_Job]) -> None:
    """Resolve the callers' futures, one wake-up per event loop for the whole batch."""
    per_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
    for job in jobs:
        per_loop.setdefault(job.loop, []).append(job)
    for loop, done in per_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, done)
        except RuntimeError:  # that loop is closed: its callers are gone
            continue


def _resolve(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done():  # the caller was cancelled (its client went away); the work stands
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
