"""A bounded load test on loopback: two `gsomia serve` nodes (KOR, JPN) under the officials' API, the peer
endpoint and the feed at once, with hostile traffic mixed in, for a few minutes.

    .venv/bin/python -m benchmarks.load [--minutes 3] [--clients 6] [--only KINDS | --without KINDS]

`--only 'tracks'` runs one kind of traffic alone, `--without 'big bodies,tracks'` all but those (kinds as
named below, comma-separated): the way to tell which traffic a node's memory grows with.

Every second, per kind of traffic, it counts answers by status; every 10 s it prints a line: requests a
second, answers by status class, and each node's resident memory. It ends with the totals, the peak memory
under the large-body attack, and exit code 1 if any answer was a 5xx or if a node's memory grew by more
than half between the first and the last third of the run (the two ways a node fails under load). Part of
that growth is by design in any run under ten minutes: the feed's replay buffer fills for its first ten
minutes (REPLAY_MAX_AGE_S, about 350 bytes a frame, on both nodes); `--without tracks` leaves it out. A run
with tracks that goes on for more than a minute past that (`--minutes 12` or more) is judged on its steady part
instead, the samples after the buffer is full: there a node whose memory grows by a tenth fails.

Traffic, each from its own threads:
    releases    a releasing official originates a 1 KiB item and releases it to JPN (KOR's API, then its
                sender to JPN's peer endpoint, then JPN's receipt back)
    reads       the inventory, an item's history, the outbox
    tracks      a sensor's batches of 50 track messages into KOR's feed, pushed to JPN by the feed link
    bad tokens  a stranger guessing tokens (the throttle answers 401, then 429)
    big bodies  a stranger sending 64 MiB bodies without a token (401 before a byte is read) and with a
                bad token (413 as they arrive)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from gsomia.demo.client import official_client, wait_for
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.feed.served import REPLAY_MAX_AGE_S

PASSPHRASE = "load test only"
BIG = 64 * 1024 * 1024
KINDS = ("releases", "reads", "tracks", "bad tokens", "big bodies")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, int]] = Counter()
        self.errors: Counter[str] = Counter()

    def add(self, kind: str, status: int) -> None:
        with self.lock:
            self.counts[(kind, status)] += 1

    def failed(self, kind: str, error: Exception) -> None:
        with self.lock:
            self.errors[f"{kind}: {type(error).__name__}"] += 1

    def snapshot(self) -> Counter[tuple[str, int]]:
        with self.lock:
            return Counter(self.counts)


def _loop(stop: threading.Event, kind: str, tally: Tally, step: object) -> None:
    while not stop.is_set():
        try:
            for status in step():  # type: ignore[operator]
                tally.add(kind, status)
        except httpx.HTTPError as error:
            tally.failed(kind, error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=6, help="threads for the honest API traffic")
    parser.add_argument("--without", default="", help="kinds of traffic to leave out, e.g. 'big bodies,tracks'")
    parser.add_argument("--only", default="", help="the kinds of traffic to run, e.g. 'tracks' (the others left out)")
    args = parser.parse_args(argv)
    without = set(filter(None, args.without.split(",")))
    if args.only:
        only = set(filter(None, args.only.split(",")))
        if only - set(KINDS) or without - set(KINDS):
            parser.error(f"kinds of traffic: {', '.join(KINDS)}")
        without |= set(KINDS) - only
    elif without - set(KINDS):
        parser.error(f"kinds of traffic: {', '.join(KINDS)}")
    env = {**os.environ, "GSOMIA_KEY_PASSPHRASE": PASSPHRASE}
    with tempfile.TemporaryDirectory(prefix="gsomia-load-") as folder:
        nodes = create_federation(Path(folder), passphrase=PASSPHRASE.encode(), parties=("KOR", "JPN"),
                                  feed_links=(("KOR", "JPN"),))
        kor, jpn = nodes["KOR"], nodes["JPN"]
        # The nodes log as `gsomia serve` does by default (JSON, an access line per request) into files beside
        # them: paid for, not printed.
        logs = {n.party: open(Path(folder) / f"{n.party}.log", "wb") for n in (kor, jpn)}  # noqa: SIM115
        servers = {n.party: subprocess.Popen([sys.executable, "-m", "gsomia.cli", "serve", "--data", str(n.data)],
                                             env=env, stdout=subprocess.DEVNULL, stderr=logs[n.party])
                   for n in (kor, jpn)}
        try:
            return _run(kor, jpn, servers, args.minutes, args.clients, without)
        finally:
            for process in servers.values():
                process.terminate()
            for process in servers.values():
                process.wait(30)
            for log in logs.values():
                log.close()


def _run(kor: LoopbackNode, jpn: LoopbackNode, servers: dict[str, subprocess.Popen[bytes]], minutes: float,
         clients: int, without: set[str]) -> int:
    releaser = official_client(kor.api_url, kor.root_certificate, kor.tokens["releaser"])
    wait_for(lambda: _up(releaser), "KOR", 30)
    wait_for(lambda: _up(official_client(jpn.api_url, jpn.root_certificate, "")), "JPN", 30)
    tally, stop = Tally(), threading.Event()

    def release() -> list[int]:
        made = releaser.post("/v1/items", json={"classification": "KOR:II", "releasable_to": ["JPN", "KOR"],
                                                "topics": ["dprk-missile"], "purpose": "load",
                                                "content_text": "x" * 1024})
        if made.status_code != 201:
            return [made.status_code]
        sent = releaser.post(f"/v1/items/{made.json()['id']}/release", json={"to": "JPN"})
        return [made.status_code, sent.status_code]

    officer = official_client(kor.api_url, kor.root_certificate, kor.tokens["officer"])

    def read() -> list[int]:
        listed = officer.get("/v1/items", params={"limit": 20})
        statuses = [listed.status_code, officer.get("/v1/outbox").status_code]
        if listed.status_code == 200 and listed.json():
            statuses.append(officer.get(f"/v1/items/{listed.json()[0]['id']}/history").status_code)
        return statuses

    stream = [0]

    def tracks() -> list[int]:
        stream[0] += 1
        now = time.time()
        batch = {"label": {"classification": "KOR:II", "releasable_to": ["JPN", "KOR"], "topics": ["dprk-missile"],
                           "purpose": "missile warning"},
                 "messages": [{"stream": f"KOR-LOAD-{stream[0] % 20}", "kind": "update", "sensor": "radar-1",
                               "time": now, "stale": now + 60, "position": {"lat": 39.0, "lon": 126.0, "alt_m": 1e5},
                               "velocity": {"east": 2000.0, "north": 0.0, "up": 100.0}} for _ in range(50)]}
        time.sleep(0.05)
        return [releaser.post("/v1/feed/tracks", json=batch).status_code]

    stranger = httpx.Client(base_url=kor.api_url, verify=str(kor.root_certificate), timeout=30)
    guess = [0]

    def bad_token() -> list[int]:
        guess[0] += 1
        time.sleep(0.02)
        return [stranger.get("/v1/whoami", headers={"Authorization": f"Bearer gsomia_guess-{guess[0]}"}).status_code]

    peak = [0.0]

    def big_body() -> list[int]:
        statuses = []
        for headers in ({}, {"Authorization": "Bearer gsomia_not-a-token"}):
            body = (b"x" * (1 << 20) for _ in range(BIG >> 20))  # streamed: the client holds 1 MiB at a time
            statuses.append(stranger.post("/v1/items", content=body, headers={
                **headers, "content-type": "application/json"}).status_code)
            peak[0] = max(peak[0], rss_mb(servers["KOR"].pid))
        time.sleep(0.2)
        return statuses

    work = [("releases", release)] * clients + [("reads", read)] * 2 + [("tracks", tracks), ("bad tokens", bad_token)]
    work += [("big bodies", big_body)] * 4  # four at once: the attack that once took a node to 5.6 GB
    work = [(kind, step) for kind, step in work if kind not in without]
    threads = [threading.Thread(target=_loop, args=(stop, kind, tally, step), daemon=True) for kind, step in work]
    started = time.monotonic()
    memory: list[tuple[float, dict[str, float]]] = []
    for thread in threads:
        thread.start()
    print(f"load for {minutes:g} min: {clients} release clients, 2 readers, a sensor, a token guesser, "
          "4 big-body senders; KOR and JPN as gsomia serve processes"
          + (f" (left out: {', '.join(sorted(without))})" if without else ""), flush=True)
    print(f"{'t (s)':>6} {'req/s':>7} {'2xx':>7} {'4xx':>7} {'5xx':>5} {'KOR MB':>8} {'JPN MB':>8}", flush=True)
    last, last_counts = started, tally.snapshot()
    while time.monotonic() - started < minutes * 60:
        time.sleep(10)
        now, counts = time.monotonic(), tally.snapshot()
        delta = counts - last_counts
        by_class = Counter(f"{status // 100}xx" for (_, status), n in delta.items() for _ in range(n))
        mem = {party: rss_mb(process.pid) for party, process in servers.items()}
        memory.append((now - started, mem))
        print(f"{now - started:6.0f} {sum(delta.values()) / (now - last):7.0f} {by_class['2xx']:7} {by_class['4xx']:7}"
              f" {by_class['5xx']:5} {mem['KOR']:8.0f} {mem['JPN']:8.0f}", flush=True)
        last, last_counts = now, counts
    stop.set()
    for thread in threads:
        thread.join(60)
    return _summary(tally, memory, peak[0], steady_after=0.0 if "tracks" in without else REPLAY_MAX_AGE_S + 30)


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/v1/health").status_code == 200
    except httpx.HTTPError:
        return False


def _summary(tally: Tally, memory: list[tuple[float, dict[str, float]]], peak: float, steady_after: float) -> int:
    counts = tally.snapshot()
    print("\ntotals by traffic and status:")
    for kind in sorted({k for k, _ in counts}):
        print(f"  {kind:<11} " + ", ".join(f"{status}: {n}" for (k, status), n in sorted(counts.items()) if k == kind))
    if tally.errors:
        print("  client-side errors: " + ", ".join(f"{k} ×{n}" for k, n in tally.errors.items()))
    server_errors = sum(n for (_, status), n in counts.items() if status >= 500)
    steady = [sample for sample in memory if sample[0] >= steady_after]
    window, bound = ("the steady part (after the replay buffer filled)", 1.1) if len(steady) >= 6 and steady_after \
        else ("the run", 1.5)

    def growth(samples: list[tuple[float, dict[str, float]]]) -> dict[str, float]:
        third = max(1, len(samples) // 3)
        return {p: mean(samples[-third:], p) / mean(samples[:third], p) for p in ("KOR", "JPN")} if samples else {}

    def mean(samples: list[tuple[float, dict[str, float]]], party: str) -> float:
        return sum(m[party] for _, m in samples) / len(samples)

    def said(grew: dict[str, float]) -> str:
        return ", ".join(f"{party} ×{g:.2f}" for party, g in grew.items())

    whole, judged = growth(memory), growth(steady if bound < 1.5 else memory)
    print(f"5xx answers: {server_errors}; KOR's peak memory during the big-body attack: {peak:.0f} MB")
    print(f"memory, last third against first third: of the run {said(whole)}"
          + (f"; of the steady part (from {steady_after:.0f} s) {said(judged)}" if bound < 1.5 else ""))
    failed = server_errors > 0 or any(g > bound for g in judged.values())
    print(("FAILED" if failed else "ok") + f": {server_errors} × 5xx; memory, last third against first of {window}: "
          f"{said(judged)} (fails past ×{bound})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
