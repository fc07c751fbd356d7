"""Interoperation with pytak, a real TAK client library: one pytak client sends CoT to our TCP
listener on a node's feed, another pytak client receives CoT out, carrying our label."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

from gsomia.domain.catalog import Catalog
from gsomia.domain.labels import Label
from gsomia.domain.tracks import EndOfTrack, TrackMessage, TrackUpdate
from gsomia.feed.cot import CotDefaults, CotWriter, parse_cot
from gsomia.feed.cot_listener import CotListener
from gsomia.services.officials import authenticate

from .helpers import make_label
from .served import kor_feed

with warnings.catch_warnings():
    # pytak warns at import that its optional aiohttp extra is absent; we use only its TCP transport.
    warnings.simplefilter("ignore")
    import pytak  # type: ignore[import-untyped]


async def pytak_client(port: int) -> tuple[Any, Any, dict[str, str]]:
    config = {"COT_URL": f"tcp://127.0.0.1:{port}"}
    reader, writer = await pytak.protocol_factory(config)
    return reader, writer, config


def test_pytak_in_and_out(catalog: Catalog, tmp_path: Path) -> None:
    label = make_label()

    async def main() -> None:
        async with kor_feed(tmp_path) as (served, spec):
            watcher = authenticate(served.node, spec.tokens["analyst"])
            listener = CotListener(served, watcher)
            listener.defaults = CotDefaults(label, "KOR", "tak-bridge-1", listener.next_seq)
            await exchange(listener, catalog, label)

    asyncio.run(main())


async def exchange(listener: CotListener, catalog: Catalog, label: Label) -> None:
    port = await listener.start()
    try:
        rx_reader, rx_writer, rx_config = await pytak_client(port)
        tx_reader, tx_writer, tx_config = await pytak_client(port)
        for _ in range(500):  # bounded: both connections accepted and subscribed
            if listener.clients == 2:
                break
            await asyncio.sleep(0.01)
        tx_queue: asyncio.Queue[bytes] = asyncio.Queue()
        rx_queue: asyncio.Queue[bytes] = asyncio.Queue()
        sender = pytak.TXWorker(tx_queue, tx_config, tx_writer)
        receiver = pytak.RXWorker(rx_queue, rx_config, rx_reader)

        # 1. plain TAK CoT, as pytak generates it: takes the listener's label and sensor
        plain = pytak.gen_cot(lat=39.5, lon=127.5, hae=80_000.0, ce=300.0, le=450.0,
                              uid="KOR-TRK-7", stale=60, cot_type="a-h-A-M")
        assert plain is not None
        await tx_queue.put(plain)
        await sender.run_once()
        # 2. our own labelled CoT, sent through pytak all the same
        ours = TrackMessage("KOR-T2", 1, "KOR", "KOR-GP-1", 1_800_000_000.0, 1_800_000_060.0, label,
                            EndOfTrack("impact"))
        await tx_queue.put(CotWriter().write(ours))
        await sender.run_once()

        got = []
        for _ in range(2):
            await asyncio.wait_for(receiver.run_once(), timeout=10)
            got.append(parse_cot(await rx_queue.get(), catalog.schemes))
        by_stream = {m.stream: m for m in got}
        first = by_stream["cot-KOR-TRK-7"]
        assert isinstance(first.body, TrackUpdate) and first.body.position.lat == 39.5
        assert first.label == label and first.sensor == "tak-bridge-1" and first.seq == 1
        assert by_stream["KOR-T2"].body == EndOfTrack("impact") and by_stream["KOR-T2"].label == label
        assert listener.accepted == 2 and listener.refused == 0

        # 3. hostile input on the same socket is refused and the connection stays usable
        await tx_queue.put(b'<!DOCTYPE event [<!ENTITY x "y">]><event uid="x">&x;</event>')
        await sender.run_once()
        foreign = TrackMessage("JPN-T1", 1, "JPN", "s", 1.0, 2.0, make_label("BOEI", originator="JPN"),
                               EndOfTrack("x"))
        await tx_queue.put(CotWriter().write(foreign))  # another party's track: not via TAK
        await sender.run_once()
        for _ in range(500):
            if listener.refused == 2:
                break
            await asyncio.sleep(0.01)
        assert listener.refused == 2
        for w in (rx_writer, tx_writer):
            w.close()
    finally:
        await listener.close()
