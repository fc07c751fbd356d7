"""A running node's feed survives its restart: the replay buffer and each stream's next number are written behind
the feed (a SQLite node: DATA/feed-replay.db; a PostgreSQL node: its schema), who started each stream is a record
of its store, so a partner that connects after the restart still gets what it missed, the stream's numbers
continue, and the stream still belongs to the official who started it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.conftest import PG_URL, pg_schemas, require_postgres
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all, wait_for

from gsomia.demo.loopback import create_federation
from gsomia.feed.subscriber import Update
from gsomia.services.feed import REPLAY_FILE

from .served import consent_kor_to_jpn, post, subscriber, updates

pytestmark = pytest.mark.slow
STREAM = "KOR-S1-RESTART"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def kor_database(request: pytest.FixtureRequest) -> Iterator[tuple[str, str] | None]:
    """KOR's store: its own SQLite file, or a schema of its own in PostgreSQL (the partners stay on SQLite)."""
    if request.param == "sqlite":
        yield None
        return
    require_postgres()
    with pg_schemas("feed_kor") as (schema,):
        yield PG_URL, schema


def held_in_postgresql(kor: RunningNode) -> dict[str, int]:
    """KOR's rows about STREAM in its PostgreSQL schema: frames, its position, who started it."""
    with kor.node.store.engine.connect() as conn:
        return {table: conn.execute(text(f"SELECT count(*) FROM {table} WHERE stream = :stream"),
                                    {"stream": STREAM}).scalar_one()
                for table in ("feed_chunks", "feed_positions", "feed_streams")}


def test_a_node_restarted_mid_stream_replays_what_it_held_and_continues_the_stream(
        tmp_path: Path, kor_database: tuple[str, str] | None) -> None:
    specs = create_federation(tmp_path, passphrase=PASSPHRASE,
                              databases={"KOR": kor_database} if kor_database is not None else None)
    running: dict[str, RunningNode] = {"KOR": start(specs["KOR"]), "JPN": start(specs["JPN"])}
    try:
        consent_kor_to_jpn(running["KOR"])
        # The hub is down: KOR takes the first ten and holds them in its buffer, nobody has them yet.
        first = post(running["KOR"], "releaser", updates(STREAM, 10))
        assert first.status_code == 200, first.text
        running["KOR"].signal_stop()
        running["KOR"].join()
        if kor_database is None:
            assert (specs["KOR"].data / REPLAY_FILE).exists()
        else:  # in KOR's schema, beside its other records; no file of its own
            assert not (specs["KOR"].data / REPLAY_FILE).exists()

        kor = running["KOR"] = start(specs["KOR"])
        if kor_database is not None:
            held = held_in_postgresql(kor)
            assert held["feed_chunks"] >= 1 and held["feed_positions"] == held["feed_streams"] == 1
        assert kor.server.feed is not None and kor.server.feed.next_seq(STREAM) == 11  # not 1 again
        running["USA"] = start(specs["USA"])  # connects after the restart: asks KOR from the beginning
        seen: list[Update] = []
        watch = subscriber(specs["JPN"], "analyst", seen)

        async def scenario() -> None:
            task = asyncio.ensure_future(watch.run())
            try:
                await asyncio.wait_for(watch.connected.wait(), 20)
                # Numbered by the node: after the restart it continues where the stream was.
                rest = await asyncio.to_thread(post, kor, "releaser", updates(STREAM, 5, numbered=False))
                assert rest.status_code == 200, rest.text
                assert rest.json()["streams"] == {STREAM: 15}
                # Still the releaser's stream: another official cannot take it over after the restart.
                hijack = await asyncio.to_thread(post, kor, "analyst", updates(STREAM, 1, start_seq=16))
                assert hijack.status_code == 403, hijack.text
                async with asyncio.timeout(30):
                    while len(seen) < 15:
                        await asyncio.sleep(0.02)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        asyncio.run(scenario())
        assert [u.msg.seq for u in seen] == list(range(1, 16))  # the pre-restart ten replayed, in order, once
        assert watch.tracker.lost(STREAM) == 0 and watch.tracker.missing(STREAM) == []
        wait_for(lambda: running["USA"].server.feed is not None
                 and running["USA"].server.feed.feed.buffer.newest(STREAM) == 15, "the hub to hold all 15")
    finally:
        stop_all(running)
