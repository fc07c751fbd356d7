"""The CoT / TAK endpoint: what a TAK client's events cost to take in, and how fast a running node takes them.

    python -m benchmarks.bench_cot [--quick]

1. Per event, in this process: parsing our labelled CoT XML (`parse_cot`: defusedxml, the label read
   through stanag4774), and a TAK Protocol v1 stream frame decoded and turned into the same XML first
   (`feed/tak.py`); beside it, the bare defusedxml parse of the same bytes (the floor of any safe parser).
2. End to end: a KOR node served on loopback (`NodeServer`, as `gsomia serve` runs it) with its CoT
   endpoint on; one TLS 1.3 client with an enrolled certificate sends N labelled track updates of one
   stream as XML, then N as TAK protobuf frames; the time until the node has originated them all (each
   through `services.feed.publish`: the stream's first event is the originate decision, the rest check the
   stream's owner and label and go into the feed).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import defusedxml.ElementTree as SafeET
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gsomia.config import load_settings, write_settings
from gsomia.data import load_catalog
from gsomia.demo.loopback import create_federation, free_port
from gsomia.domain.labels import Label
from gsomia.domain.tracks import Position, TrackMessage, TrackUpdate, Uncertainty, Velocity
from gsomia.feed import tak
from gsomia.feed.cot import CotWriter, parse_cot
from gsomia.node import NodeServer
from gsomia.services import cot_clients, officials
from gsomia.services.context import Actor
from gsomia.services.runtime import open_node

PASSPHRASE = b"bench cot passphrase"


def _label() -> Label:
    schemes = load_catalog().schemes
    return Label(originator="KOR", policy="KOR", classification=schemes.parse("KOR:II"),
                 releasable_to=frozenset({"KOR", "USA", "JPN"}), topics=frozenset({"dprk-missile"}),
                 purpose="missile warning", created_at=datetime.now(timezone.utc))


def _events(stream: str, count: int, label: Label) -> list[bytes]:
    now, writer = time.time(), CotWriter()
    body = TrackUpdate(Position(39.0, 126.0, 1000.0), Velocity(2000.0, 100.0, 500.0), Uncertainty(300.0, 450.0))
    return [writer.write(TrackMessage(stream, seq, "KOR", "KOR-S1", now + seq * 0.05, now + 600, label, body))
            for seq in range(1, count + 1)]


def _per_event_us(work: list[bytes], step: object, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for data in work:
            step(data)  # type: ignore[operator]
        runs.append((time.perf_counter() - started) / len(work) * 1e6)
    return statistics.median(runs)


def parsing(quick: bool) -> None:
    schemes = load_catalog().schemes
    events = _events("KOR-BENCH-P", 200 if quick else 1000, _label())
    frames = [tak.stream_frame(e) for e in events]
    repeats = 3 if quick else 7
    bare = _per_event_us(events, lambda d: SafeET.fromstring(d, forbid_dtd=True), repeats)
    xml = _per_event_us(events, lambda d: parse_cot(d, schemes), repeats)
    proto = _per_event_us(frames, lambda f: parse_cot(tak.event_xml(tak.message_from_stream_frame(f)), schemes),
                          repeats)
    print(f"per event ({len(events[0])} B of CoT XML, {len(frames[0])} B as a TAK frame), median of {repeats}:")
    print(f"  defusedxml parse alone      {bare:7.1f} µs")
    print(f"  CoT XML → track message     {xml:7.1f} µs  ({xml / bare:.1f}× the bare parse)")
    print(f"  TAK frame → track message   {proto:7.1f} µs  ({proto / bare:.1f}×)")


def _client_certificate(directory: Path) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-eud")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "eud.crt").write_bytes(pem)
    (directory / "eud.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return directory / "eud.crt", directory / "eud.key", pem


def end_to_end(quick: bool) -> None:
    count = 500 if quick else 5000
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        spec = create_federation(base, passphrase=PASSPHRASE, parties=("KOR",))["KOR"]
        write_settings(load_settings(spec.data).model_copy(update={"cot_port": free_port()}))
        cert, key, pem = _client_certificate(base)
        with open_node(spec.data, passphrase=PASSPHRASE) as node:
            officer = Actor(officials.authenticate(node, spec.tokens["officer"]), "bench")
            analyst = officials.authenticate(node, spec.tokens["analyst"])
            cot_clients.enrol(node, officer, analyst.id, pem, reason="benchmark")
        node = open_node(spec.data, passphrase=PASSPHRASE)
        server = NodeServer(node, passphrase=PASSPHRASE)
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def run() -> None:
            task = asyncio.create_task(server.run())
            await server.started()
            ready.set()
            await task

        thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
        thread.start()
        ready.wait(30)
        listener = server.cot
        assert listener is not None and server.cot_port is not None
        context = ssl.create_default_context(cafile=str(spec.root_certificate))
        context.load_cert_chain(cert, key)
        label = _label()
        try:
            with socket.create_connection(("127.0.0.1", server.cot_port)) as raw, \
                    context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                for name, encode in (("CoT XML", lambda e: e), ("TAK protobuf", tak.stream_frame)):
                    payload = b"".join(encode(e) for e in _events(f"KOR-BENCH-{name[:3]}", count, label))
                    before = listener.accepted
                    started = time.perf_counter()
                    conn.sendall(payload)
                    deadline = time.monotonic() + 120
                    while listener.accepted < before + count and time.monotonic() < deadline:
                        time.sleep(0.002)
                    took = time.perf_counter() - started
                    done = listener.accepted - before
                    print(f"  {name:13s} {done}/{count} events originated over TLS 1.3 in {took:.2f} s: "
                          f"{done / took:,.0f} events/s")
        finally:
            loop.call_soon_threadsafe(server.stop.set)
            thread.join(30)
            node.close()


def main(args: list[str] | bool) -> None:
    quick = args if isinstance(args, bool) else "--quick" in args
    parsing(quick)
    print("end to end, one client, one stream each way, a KOR node on loopback:")
    end_to_end(quick)


if __name__ == "__main__":
    main(sys.argv[1:])
