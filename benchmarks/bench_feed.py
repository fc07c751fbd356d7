"""End-to-end latency of the missile-warning feed: sensor → KOR → USA hub → JPN → subscriber.

    .venv/bin/python -m benchmarks.bench_feed [--quick] [--rates 1000,5000] [--seconds 5] [--repeat 2]
                                              [--warmup 1] [--single-loop] [--batch-interval-ms 2]

For each rate the same payloads (real track frames, 50 Hz tracks over as many streams as the rate
needs) go through three chains, one after the other, on 127.0.0.1:

- gsomia:        the full feed: Ed25519 batch signature and verification per hop, per-hop policy
                 (release, relay under T5 consent, receipt with re-marking, read), sequence tracking,
                 replay buffering;
- raw WebSocket: the same four hops as bare WebSocket relays that forward bytes, one per message;
- raw NATS:      four publish/subscribe hops through the local NATS server (skipped if unreachable).

By default KOR, USA and JPN (or the raw relays) each run in their own process, as the nodes run on
their own machines; the sensor and the subscriber share the benchmark's process. --single-loop puts
everything in one asyncio loop instead. The sender paces messages with sleeps of at least 1 ms, as a
sensor would, rather than spinning (a spinning sender took a whole core from the hops). Each chain
first sends `--warmup` seconds that are not measured. Each process's CPU time per message is printed
beside the latencies: on a shared 2-core machine CPU is what latency is made of. The default run
repeats every rate (`--repeat`) and ends with a summary against the issue's targets. The machine is
shared and noisy: read the ratios, measured in the same run, rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing as mp
import os
import struct
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timezone
from itertools import pairwise
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gsomia.data import load_catalog
from gsomia.domain.hops import HopDecisions
from gsomia.domain.labels import Label
from gsomia.domain.schemes import Classification
from gsomia.domain.tracks import EndOfTrack, Routed, TrackMessage
from gsomia.feed.hop_audit import HopLedger
from gsomia.feed.pipeline import CHAIN, JPN_READER, chain_link, chain_node, percentiles
from gsomia.feed.replay import ReplayBuffer
from gsomia.feed.subscriber import FeedSubscriber, Update
from gsomia.feed.trajectory import TrackSource, ballistic_track, scenario_for_seed
from gsomia.feed.wire import encode_message
from gsomia.storage.feed import open_replay_file

NATS_URL = "nats://127.0.0.1:4222"
Report = Callable[[Any], None]
LABEL = Label("KOR", "KOR", Classification("KOR", "II"), frozenset({"KOR", "USA", "JPN"}),
              frozenset({"dprk-missile"}), "missile warning", datetime(2026, 11, 22, tzinfo=timezone.utc))


def workload(rate: int, seconds: float) -> list[TrackMessage]:
    total = int(rate * seconds)
    streams = max(1, rate // 50)
    per_stream = -(-total // streams)
    base: list[TrackMessage] = []
    source = TrackSource(LABEL, "B", rate_hz=50.0, stale_after_s=3600)
    for msg in ballistic_track(scenario_for_seed(11), source, time.time()):
        base.append(msg)
        if len(base) == per_stream:
            break
    # Interleaved as concurrent tracks arrive: one message of each stream in turn.
    return [replace(m, stream=f"KOR-B{s:03d}") for m in base for s in range(streams)][:total]


async def paced(count: int, rate: int, send: Callable[[int], Awaitable[None]]) -> None:
    """Message i goes at t0 + i / rate, in whatever bursts the loop's ticks allow."""
    t0 = time.perf_counter()
    sent = 0
    while sent < count:
        due = min(count, int((time.perf_counter() - t0) * rate) + 1)
        while sent < due:
            await send(sent)
            sent += 1
        await asyncio.sleep(max(0.001, t0 + sent / rate - time.perf_counter()))


async def until(done: Callable[[], bool], limit_s: float = 15.0) -> None:
    for _ in range(int(limit_s / 0.01)):
        if done():
            return
        await asyncio.sleep(0.01)


# --- the relay hops: each runs in its own process (default) or as a task (--single-loop) ---------

async def gsomia_hop(spec: dict[str, Any], report: Report, stop: asyncio.Event) -> dict[str, Any]:
    """One node as `gsomia serve` runs it: its replay buffer written behind to SQLite, its per-hop decisions
    counted and drained each second, summarised in a worker thread as the node's audit writer does (not
    stored: the audit store is not the feed's, and `bench_audit` measures it)."""
    public = {n: Ed25519PublicKey.from_public_bytes(b) for n, b in spec["public"].items()}
    directory = tempfile.TemporaryDirectory(prefix="bench-feed-")
    store = open_replay_file(Path(directory.name) / "feed-replay.db") if spec["persist"] else None
    ledger = HopLedger(time.time) if spec["persist"] else None
    node = chain_node(spec["node_id"], Ed25519PrivateKey.from_private_bytes(spec["key"]), public, load_catalog(),
                      batch_interval_s=spec["interval"], buffer=ReplayBuffer(time.time, store=store), ledger=ledger)
    audited = 0

    def summarise(records: list[HopDecisions]) -> int:
        return len([r.summary() for r in records])

    async def drain_audit() -> None:
        nonlocal audited
        while ledger is not None:
            await asyncio.sleep(1.0)
            audited += await asyncio.to_thread(summarise, ledger.drain())
    marks: dict[tuple[str, int], float] = {}

    def mark(_node: str, msg: Routed) -> None:
        marks.setdefault((msg.stream, msg.seq), time.perf_counter())

    node.observer = mark
    port = await node.serve()
    if spec["downstream"]:
        chain_link(node, spec["downstream"])
    gc.freeze()  # start-up objects (catalogue, modules) need never be scanned again by the GC
    drainer = asyncio.ensure_future(drain_audit())
    report(port)
    cpu = time.process_time()
    await stop.wait()
    cpu = time.process_time() - cpu
    drainer.cancel()
    await node.close()
    if store is not None:
        store.close()
    directory.cleanup()
    return {"marks": marks, "batches": node.signer._number, "cpu": cpu, "audited": audited}


async def ws_hop(spec: dict[str, Any], report: Report, stop: asyncio.Event) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    async def relay(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # the chain is torn down from the front
            async with connect(spec["downstream"], compression=None) as out:
                async for data in ws:
                    await out.send(data)

    server = await serve(relay, "127.0.0.1", 0, compression=None)
    report(next(iter(server.sockets)).getsockname()[1])
    cpu = time.process_time()
    await stop.wait()
    cpu = time.process_time() - cpu
    server.close()
    with contextlib.suppress(TimeoutError):  # closing handshakes, so that the process ends without waiting
        await asyncio.wait_for(server.wait_closed(), 2)
    return {"cpu": cpu}


async def nats_hop(spec: dict[str, Any], report: Report, stop: asyncio.Event) -> dict[str, Any]:
    import nats
    from nats.aio.msg import Msg

    nc = await nats.connect(NATS_URL, connect_timeout=2)

    async def relay(msg: Msg) -> None:
        await nc.publish(spec["out"], msg.data)

    await nc.subscribe(spec["in"], cb=relay)
    await nc.flush()
    report(0)
    await stop.wait()
    await nc.drain()
    return {}


HOPS = {"gsomia": gsomia_hop, "ws": ws_hop, "nats": nats_hop}


def _child(kind: str, spec: dict[str, Any], conn: Connection, use_uvloop: bool) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), stop.set)  # any word from the parent: stop
        report = conn.send
        result = await HOPS[kind](spec, report, stop)
        loop.remove_reader(conn.fileno())
        os.set_blocking(conn.fileno(), True)  # the loop made it non-blocking; the result is large
        conn.send(result)

    if use_uvloop:
        import uvloop
        uvloop.run(main())
    else:
        asyncio.run(main())


def _have_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


class Relays:
    """Three hops started back to front (JPN, USA, KOR), each told where the next one listens."""

    def __init__(self, processes: bool, use_uvloop: bool) -> None:
        self.processes, self.uvloop = processes, use_uvloop
        self._children: list[tuple[Any, Connection]] = []
        self._tasks: list[tuple[asyncio.Task[dict[str, Any]], asyncio.Event]] = []

    async def start(self, kind: str, spec: dict[str, Any]) -> int:
        if self.processes:
            parent, child = mp.get_context("spawn").Pipe()
            proc = mp.get_context("spawn").Process(target=_child, args=(kind, spec, child, self.uvloop), daemon=True)
            proc.start()
            self._children.append((proc, parent))
            return int(await asyncio.get_running_loop().run_in_executor(None, parent.recv))
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        self._tasks.append((asyncio.ensure_future(HOPS[kind](spec, ready.set_result, stop)), stop))
        return await ready

    async def stop(self) -> list[dict[str, Any]]:
        results = []
        for proc, conn in self._children:
            conn.send("stop")
            results.append(await asyncio.get_running_loop().run_in_executor(None, conn.recv))
            proc.join(timeout=10)
        for task, stop in self._tasks:
            stop.set()
            results.append(await task)
        return results


# --- the three chains ----------------------------------------------------------------------------

async def run_gsomia(msgs: list[TrackMessage], rate: int, relays: Relays, interval: float,
                     warm: int, persist: bool) -> dict[str, Any]:
    keys = {n: Ed25519PrivateKey.generate() for n in CHAIN}
    public = {n: k.public_key() for n, k in keys.items()}
    public_raw = {n: k.public_bytes_raw() for n, k in public.items()}
    url = ""
    for node_id in reversed(CHAIN[1:]):
        port = await relays.start("gsomia", {"node_id": node_id, "key": keys[node_id].private_bytes_raw(),
                                             "public": public_raw, "downstream": url, "interval": interval,
                                             "persist": persist})
        url = f"ws://127.0.0.1:{port}"
        if node_id == "JPN-node":
            jpn_url = url
    catalog = load_catalog()
    sensor = chain_node("KOR-sensor-1", keys["KOR-sensor-1"], public, catalog, batch_interval_s=interval)
    chain_link(sensor, url)
    sent: dict[tuple[str, int], float] = {}
    got: dict[tuple[str, int], float] = {}

    def on_update(update: Update) -> None:
        got.setdefault((update.msg.stream, update.msg.seq), time.perf_counter())

    subscriber = FeedSubscriber(jpn_url, JPN_READER.id, "JPN-node", public["JPN-node"],
                                lambda b: Label.from_canonical(b, catalog.schemes), on_update=on_update,
                                maxsize=1)  # measured in on_update; keeping every update would only feed the GC
    sub_task = asyncio.ensure_future(subscriber.run())
    first = TrackMessage("KOR-WARM", 1, "KOR", "s", time.time(), time.time() + 3600, LABEL, EndOfTrack("warm"))
    await sensor.originate(first)
    await until(lambda: ("KOR-WARM", 1) in got, 30.0)  # every link is up once this arrives

    async def send(i: int) -> None:
        if i >= warm:
            sent[(msgs[i].stream, msgs[i].seq)] = time.perf_counter()
        await sensor.originate(msgs[i])

    cpu = time.process_time()
    await paced(len(msgs), rate, send)
    await until(lambda: len(got) >= len(msgs) + 1)
    cpu = time.process_time() - cpu
    results = await relays.stop()
    sub_task.cancel()
    await asyncio.gather(sub_task, return_exceptions=True)
    await sensor.close()
    points = [sent, *(r["marks"] for r in reversed(results)), got]  # sensor, KOR, USA, JPN, subscriber
    names = ["sensor", "KOR", "USA", "JPN", "subscriber"]
    hops = {f"{a}→{b}": percentiles([(pb[k] - pa[k]) * 1e3 for k in sent if k in pa and k in pb])
            for (a, pa), (b, pb) in pairwise(zip(names, points, strict=True))}
    return {"e2e": percentiles([(got[k] - sent[k]) * 1e3 for k in sent if k in got]), "hops": hops,
            "lost": sum(1 for k in sent if k not in got), "batches": results[1]["batches"],
            "audited": sum(r["audited"] for r in results),
            "cpu": [cpu, *(r["cpu"] for r in reversed(results))]}


async def run_raw_ws(payloads: list[bytes], rate: int, relays: Relays, warm: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    sent_at = [0.0] * len(payloads)
    got: list[float] = []

    async def sink(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # the relay before us stops first at the end
            async for data in ws:
                assert isinstance(data, bytes)
                i = struct.unpack_from(">I", data)[0]
                if i >= warm:
                    got.append((time.perf_counter() - sent_at[i]) * 1e3)

    server = await serve(sink, "127.0.0.1", 0, compression=None)
    url = f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}"
    for _ in range(3):
        url = f"ws://127.0.0.1:{await relays.start('ws', {'downstream': url})}"
    async with connect(url, compression=None) as source:
        async def send(i: int) -> None:
            sent_at[i] = time.perf_counter()
            await source.send(struct.pack(">I", i) + payloads[i])
        cpu = time.process_time()
        await paced(len(payloads), rate, send)
        await until(lambda: len(got) >= len(payloads) - warm)
        cpu = time.process_time() - cpu
    results = await relays.stop()
    server.close()
    return {"e2e": percentiles(got), "lost": len(payloads) - warm - len(got),
            "cpu": [cpu, *(r["cpu"] for r in reversed(results))]}


async def run_raw_nats(payloads: list[bytes], rate: int, relays: Relays, warm: int) -> dict[str, Any] | None:
    import nats
    from nats.aio.msg import Msg

    try:
        nc = await nats.connect(NATS_URL, connect_timeout=1, max_reconnect_attempts=0)
    except Exception:
        return None
    prefix = f"bench.{int(time.time() * 1000)}"
    sent_at = [0.0] * len(payloads)
    got: list[float] = []

    async def sink(msg: Msg) -> None:
        i = struct.unpack_from(">I", msg.data)[0]
        if i >= warm:
            got.append((time.perf_counter() - sent_at[i]) * 1e3)

    await nc.subscribe(f"{prefix}.h4", cb=sink)
    for hop in (3, 2, 1):
        await relays.start("nats", {"in": f"{prefix}.h{hop}", "out": f"{prefix}.h{hop + 1}"})
    await nc.flush()

    async def send(i: int) -> None:
        sent_at[i] = time.perf_counter()
        await nc.publish(f"{prefix}.h1", struct.pack(">I", i) + payloads[i])

    await paced(len(payloads), rate, send)
    await until(lambda: len(got) >= len(payloads) - warm)
    await relays.stop()
    await nc.drain()
    return {"e2e": percentiles(got), "lost": len(payloads) - warm - len(got)}


def fmt(s: dict[str, float]) -> str:
    return f"p50 {s['p50']:7.2f}  p99 {s['p99']:7.2f}  max {s['max']:7.2f} ms  (n={s['n']:.0f})"


def cpu_line(name: str, result: dict[str, Any], count: int) -> str:
    per = "  ".join(f"{n} {c / count * 1e6:4.0f}" for n, c in
                    zip(("sensor+subscriber", "KOR", "USA", "JPN"), result["cpu"], strict=True))
    return f"  CPU µs/msg {name:14s} {per}"


async def measure(rate: int, seconds: float, warmup: float, processes: bool, use_uvloop: bool,
                  interval: float, persist: bool) -> dict[str, Any]:
    """The three chains, one after the other, over the same payloads; the first `warmup` seconds of
    each are sent but not measured (connections, caches and the first policy decisions settle)."""
    msgs = workload(rate, seconds + warmup)
    warm = int(rate * warmup)
    payloads = [encode_message(m) for m in msgs]
    # The pre-built workload is the harness's, not the feed's: keep its ~5 objects per message
    # out of the GC's full collections, which would otherwise show up as the feed's p99.
    gc.freeze()
    ours = await run_gsomia(msgs, rate, Relays(processes, use_uvloop), interval, warm, persist)
    ws = await run_raw_ws(payloads, rate, Relays(processes, use_uvloop), warm)
    nats_result = await run_raw_nats(payloads, rate, Relays(processes, use_uvloop), warm)
    gc.unfreeze()
    print(f"\n== {rate} msg/s: {len(msgs) - warm} messages measured after {warm} warm-up,"
          f" {len(payloads[0])}-byte frames ==")
    print(f"gsomia feed      {fmt(ours['e2e'])}  lost {ours['lost']}  (hub signed {ours['batches']} batches;"
          f" {ours['audited']} audit aggregates)")
    for hop, stats in ours["hops"].items():
        print(f"  {hop:15s} {fmt(stats)}")
    print(f"raw websocket    {fmt(ws['e2e'])}  lost {ws['lost']}")
    rows = [("raw websocket", ws)]
    if nats_result is None:
        print("raw NATS         (unreachable at 127.0.0.1:4222: skipped)")
    else:
        print(f"raw NATS         {fmt(nats_result['e2e'])}  lost {nats_result['lost']}")
        rows.append(("raw NATS", nats_result))
    print(cpu_line("gsomia", ours, len(msgs)))
    print(cpu_line("raw websocket", ws, len(msgs)))
    ratios = {}
    for name, base in rows:
        ratios[name] = ours["e2e"]["p50"] / base["e2e"]["p50"]
        p99_ratio = ours["e2e"]["p99"] / base["e2e"]["p99"]
        print(f"ratio gsomia / {name:13s}  p50 {ratios[name]:5.2f}x   p99 {p99_ratio:5.2f}x")
    return {"rate": rate, "p50": ours["e2e"]["p50"], "p99": ours["e2e"]["p99"], "lost": ours["lost"],
            "raw_p50": ws["e2e"]["p50"], "ratio": ratios["raw websocket"]}


def verdict(runs: list[dict[str, Any]]) -> None:
    """Each rate's runs against the issue's targets: no loss; p99 ≤ 50 ms at 5,000/s; p50 ≤ 4× raw."""
    print("\n== summary (targets: zero loss; p99 ≤ 50 ms at 5,000 msg/s; p50 ≤ 4× raw WebSocket) ==")
    for rate in dict.fromkeys(r["rate"] for r in runs):
        mine = [r for r in runs if r["rate"] == rate]
        ratios = sorted(r["ratio"] for r in mine)
        p99s = sorted(r["p99"] for r in mine)
        line = (f"{rate:5d} msg/s  runs {len(mine)}  lost {sum(r['lost'] for r in mine)}"
                f"  p50 ratio {' '.join(f'{x:.2f}x' for x in ratios)}"
                f"  p99 {' '.join(f'{x:.1f}' for x in p99s)} ms")
        print(line)


async def run(rates: list[int], seconds: float, warmup: float, repeat: int, processes: bool, use_uvloop: bool,
              interval: float, persist: bool) -> list[dict[str, Any]]:
    mode = "KOR, USA, JPN in separate processes" if processes else "one asyncio loop"
    print(f"feed benchmark: {seconds:g} s per rate (+{warmup:g} s warm-up), {repeat} run(s);"
          f" sensor→KOR→USA→JPN→subscriber on 127.0.0.1; {mode}; {'uvloop' if use_uvloop else 'asyncio'} loops;"
          f" at most one signed batch per {interval * 1e3:g} ms per link on average;"
          f" {'replay buffers persisted, decisions audited' if persist else 'nothing persisted or audited'};"
          f" {os.cpu_count()} CPUs")
    runs = []
    for _ in range(repeat):
        for rate in rates:
            runs.append(await measure(rate, seconds, warmup, processes, use_uvloop, interval, persist))
    verdict(runs)
    return runs


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description="feed end-to-end latency against raw WebSocket and NATS")
    parser.add_argument("--quick", action="store_true", help="1 s per rate after 0.5 s of warm-up, one run")
    parser.add_argument("--rates", default="1000,5000")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per rate (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent before measuring (default 1)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of every rate (default 2)")
    parser.add_argument("--single-loop", action="store_true", help="every hop in this process's loop")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio loops")
    parser.add_argument("--no-persist", action="store_true",
                        help="keep replay buffers in memory only and count no decisions for the audit trail")
    parser.add_argument("--batch-interval-ms", type=float, default=2.0,
                        help="average least time between two signed batches on a link (0: sign as fast as possible)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.repeat = 1.0, 0.5, 1
    use_uvloop = not args.no_uvloop and _have_uvloop()
    runner: Callable[[Any], Any] = asyncio.run
    if use_uvloop:
        import uvloop
        runner = uvloop.run
    result: list[dict[str, Any]] = runner(run([int(r) for r in args.rates.split(",")], args.seconds, args.warmup,
                                              args.repeat, not args.single_loop, use_uvloop,
                                              args.batch_interval_ms / 1e3, not args.no_persist))
    return result


if __name__ == "__main__":
    main()
