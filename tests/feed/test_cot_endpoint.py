"""The CoT / TAK endpoint `gsomia serve` starts when `cot_port` is set, driven by real TAK clients over TLS 1.3
on loopback: pytak (a real TAK client library) sends TAK protobuf and CoT XML in with an enrolled client
certificate and receives CoT out; a raw TLS client negotiates TAK protocol version 1 and reads protobuf
frames (decoded with takproto); each sender is its certificate's official, each stream decided and audited;
each client gets only what its official may read; certificates not enrolled, or withdrawn, are refused."""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import socket
import ssl
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import takproto  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all, wait_for

from gsomia.config import load_settings, write_settings
from gsomia.demo.loopback import LoopbackNode, create_federation, free_port
from gsomia.domain.tracks import EndOfTrack, Position, TrackMessage, TrackUpdate, Uncertainty, Velocity
from gsomia.feed import tak
from gsomia.feed.cot import CotWriter, parse_cot
from gsomia.services import cot_clients, officials
from gsomia.services.context import Actor
from gsomia.services.runtime import open_node

from .helpers import make_label
from .served import audit_entries

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak  # type: ignore[import-untyped]

pytestmark = pytest.mark.slow


def client_certificate(directory: Path, name: str) -> tuple[Path, Path, bytes]:
    """A TAK client's own self-signed certificate and key (PEM files), as a TAK user brings one."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = directory / f"{name}.crt.pem", directory / f"{name}.key.pem"
    cert_path.write_bytes(pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, pem


def prepare(tmp_path: Path) -> tuple[LoopbackNode, dict[str, tuple[Path, Path, str]]]:
    """A KOR node with its CoT endpoint on, and client certificates for: the analyst (SECRET), a watcher cleared
    only to CONFIDENTIAL, and a stranger whose certificate is never enrolled."""
    spec = create_federation(tmp_path, passphrase=PASSPHRASE, parties=("KOR",))["KOR"]
    write_settings(load_settings(spec.data).model_copy(update={
        "cot_port": free_port(), "cot_plain_classification": "KOR:III", "cot_plain_releasable_to": ["KOR", "USA"],
        "cot_plain_topics": ["dprk-missile"], "cot_plain_purpose": "missile warning"}))
    certs: dict[str, tuple[Path, Path, str]] = {}
    with open_node(spec.data, passphrase=PASSPHRASE) as node:
        officer = Actor(officials.authenticate(node, spec.tokens["officer"]), "cli-token")
        analyst = officials.authenticate(node, spec.tokens["analyst"])
        watcher = officials.appoint(node, officer, name="KOR watcher", clearance="KOR:III",
                                    granted=datetime.now(timezone.utc) - timedelta(days=1), expires=None,
                                    need_to_know=["dprk-missile"], roles=["reader"], reason="CoT test").official
        for who, official_id in (("analyst", analyst.id), ("watcher", watcher.id), ("stranger", "")):
            cert_path, key_path, pem = client_certificate(tmp_path, who)
            certs[who] = (cert_path, key_path, official_id)
            if official_id:
                cot_clients.enrol(node, officer, official_id, pem, reason="TAK client of the test")
    return spec, certs


def pytak_config(spec: LoopbackNode, port: int, cert: Path, key: Path, protobuf: bool) -> Any:
    parser = configparser.ConfigParser()
    parser["tak"] = {"COT_URL": f"tls://127.0.0.1:{port}", "PYTAK_TLS_CLIENT_CERT": str(cert),
                     "PYTAK_TLS_CLIENT_KEY": str(key), "PYTAK_TLS_CLIENT_CAFILE": str(spec.root_certificate),
                     "TAK_PROTO": "1" if protobuf else "0"}
    return parser["tak"]


def tls_client(spec: LoopbackNode, cert: Path, key: Path, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(spec.root_certificate))
    context.load_cert_chain(cert, key)
    if maximum is not None:
        context.maximum_version = maximum
    return context


def labelled_update(stream: str, classification: str, seq: int) -> bytes:
    now = time.time()
    body = TrackUpdate(Position(39.1, 126.2, 5_000.0), Velocity(2000.0, 100.0, 500.0), Uncertainty(300.0, 450.0))
    return CotWriter().write(TrackMessage(stream, seq, "KOR", "KOR-S1", now, now + 600, make_label(classification),
                                          body))


def read_frames(conn: ssl.SSLSocket, wanted: int) -> list[Any]:
    """TAK stream frames until `wanted` have come (bounded by the socket timeout)."""
    buffer, out = b"", []
    while len(out) < wanted:
        buffer += conn.recv(65536)
        while buffer and buffer[0] == tak.STREAM_MAGIC:
            size, at, shift = 0, 1, 0
            while buffer[at] & 0x80:
                size |= (buffer[at] & 0x7F) << shift
                at, shift = at + 1, shift + 7
            size |= buffer[at] << shift
            end = at + 1 + size
            if len(buffer) < end:
                break
            out.append(takproto.parse_proto(bytearray(buffer[:end])))
            buffer = buffer[end:]
    return out


def test_tak_clients_in_and_out_over_tls(tmp_path: Path) -> None:
    spec, certs = prepare(tmp_path)
    running = {"KOR": start(spec)}
    kor = running["KOR"]
    try:
        port = kor.server.cot_port
        listener = kor.server.cot
        assert port is not None and listener is not None
        analyst_id = certs["analyst"][2]
        asyncio.run(pytak_round_trip(spec, kor, port, certs))
        assert (listener.accepted, listener.refused) == (3, 1)

        audited = {e.subject: e for e in audit_entries(kor, "feed.originate")}
        plain = audited["cot-KOR-TAK-7"]
        assert (plain.actor, plain.via, plain.decision) == (analyst_id, "cot", "allow")
        top = audited["KOR-COT-TOP"]  # above the analyst's clearance: refused, and the refusal audited
        assert (top.actor, top.via, top.decision) == (analyst_id, "cot", "deny") and "R7.2" in top.rules

        takproto_frames(spec, kor, port, certs)
        refusals(spec, kor, port, certs)
    finally:
        stop_all(running)


async def pytak_round_trip(spec: LoopbackNode, kor: RunningNode, port: int,
                           certs: dict[str, tuple[Path, Path, str]]) -> None:
    analyst_cert, analyst_key, _ = certs["analyst"]
    watcher_cert, watcher_key, _ = certs["watcher"]
    rx_config = pytak_config(spec, port, analyst_cert, analyst_key, protobuf=False)
    watch_config = pytak_config(spec, port, watcher_cert, watcher_key, protobuf=False)
    tx_config = pytak_config(spec, port, analyst_cert, analyst_key, protobuf=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rx_reader, rx_writer = await pytak.protocol_factory(rx_config)
        watch_reader, watch_writer = await pytak.protocol_factory(watch_config)
        tx_reader, tx_writer = await pytak.protocol_factory(tx_config)
    listener = kor.server.cot
    assert listener is not None
    for _ in range(500):  # bounded: the three connections admitted (their certificates mapped to officials)
        if listener.clients == 3:
            break
        await asyncio.sleep(0.02)
    assert listener.clients == 3
    tx_queue: asyncio.Queue[bytes] = asyncio.Queue()
    sender = pytak.TXWorker(tx_queue, tx_config, tx_writer)
    assert sender.use_protobuf  # pytak sends TAK Protocol v1 stream frames
    # 1. plain TAK CoT as pytak makes it: originated under the node's plain-input label (KOR:III)
    await tx_queue.put(pytak.gen_cot(lat=39.5, lon=127.5, hae=80_000.0, ce=300.0, le=450.0, uid="KOR-TAK-7",
                                     stale=60, cot_type="a-h-A-M"))
    await sender.run_once()
    # 2. our own labelled CoT at KOR:II (SECRET), through pytak's protobuf all the same
    await tx_queue.put(labelled_update("KOR-COT-II", "II", 1))
    await sender.run_once()
    await tx_queue.put(CotWriter().write(TrackMessage("KOR-COT-II", 2, "KOR", "KOR-S1", time.time(),
                                                      time.time() + 60, make_label("II"), EndOfTrack("lost"))))
    await sender.run_once()
    # 3. KOR:I (TOP SECRET): above the analyst's clearance, refused
    await tx_queue.put(labelled_update("KOR-COT-TOP", "I", 1))
    await sender.run_once()

    rx_queue: asyncio.Queue[bytes] = asyncio.Queue()
    receiver = pytak.RXWorker(rx_queue, rx_config, rx_reader)
    got = []
    for _ in range(3):
        await asyncio.wait_for(receiver.run_once(), timeout=15)
        got.append(parse_cot(await rx_queue.get(), kor.node.schemes))
    assert sorted((m.stream, m.seq) for m in got) == [("KOR-COT-II", 1), ("KOR-COT-II", 2), ("cot-KOR-TAK-7", 1)]
    plain = next(m for m in got if m.stream == "cot-KOR-TAK-7")
    assert str(plain.label.classification) == "KOR:III" and isinstance(plain.body, TrackUpdate)
    assert plain.body.position.lat == pytest.approx(39.5) and plain.sensor.startswith("tak-OFF-")

    # The watcher (CONFIDENTIAL) gets the KOR:III track and nothing of the SECRET stream.
    watch_queue: asyncio.Queue[bytes] = asyncio.Queue()
    watching = pytak.RXWorker(watch_queue, watch_config, watch_reader)
    await asyncio.wait_for(watching.run_once(), timeout=15)
    seen = parse_cot(await watch_queue.get(), kor.node.schemes)
    assert seen.stream == "cot-KOR-TAK-7"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(watching.run_once(), timeout=1.5)
    for writer in (rx_writer, watch_writer, tx_writer):
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


def takproto_frames(spec: LoopbackNode, kor: RunningNode, port: int, certs: dict[str, tuple[Path, Path, str]]) -> None:
    """A raw TLS client negotiates TAK protocol v1, sends takproto frames, reads protobuf frames back."""
    cert, key, _ = certs["analyst"]
    context = tls_client(spec, cert, key)
    with socket.create_connection(("127.0.0.1", port), timeout=15) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
        assert conn.version() == "TLSv1.3"
        request = (b'<event version="2.0" uid="client-1" type="t-x-takp-q" how="m-g" time="2026-01-01T00:00:00Z"'
                   b' start="2026-01-01T00:00:00Z" stale="2026-01-01T00:01:00Z"><point lat="0" lon="0" hae="0"'
                   b' ce="9999999" le="9999999"/><detail><TakControl><TakRequest version="1"/></TakControl>'
                   b"</detail></event>")
        conn.sendall(request)
        answer = b""
        while b"</event>" not in answer:
            answer += conn.recv(4096)
        assert b't-x-takp-r' in answer and b'status="true"' in answer
        conn.sendall(tak.stream_frame(labelled_update("KOR-PROTO", "II", 1)))
        frames = read_frames(conn, 1)  # live: what the feed takes from now on
    assert [(f.cotEvent.uid, f.cotEvent.type) for f in frames] == [("KOR-PROTO", "a-h-A-M")]
    proto = next(f for f in frames if f.cotEvent.uid == "KOR-PROTO")
    back = parse_cot(tak.event_xml(proto), kor.node.schemes)  # our label rode in the protobuf's xmlDetail
    assert str(back.label.classification) == "KOR:II" and back.label.topics == {"dprk-missile"}
    assert back.stream == "KOR-PROTO" and back.seq == 1


def refusals(spec: LoopbackNode, kor: RunningNode, port: int, certs: dict[str, tuple[Path, Path, str]]) -> None:
    # A certificate never enrolled: the TLS handshake is refused.
    cert, key, _ = certs["stranger"]
    with pytest.raises((ssl.SSLError, ConnectionError)):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                tls_client(spec, cert, key).wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            conn.sendall(labelled_update("KOR-STRANGER", "III", 1))
            if not conn.recv(1):
                raise ConnectionError("closed")
    # TLS 1.2 is not spoken.
    cert, key, watcher_id = certs["watcher"]
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                tls_client(spec, cert, key, ssl.TLSVersion.TLSv1_2).wrap_socket(raw, server_hostname="127.0.0.1"):
            pass
    # A withdrawn certificate: still trusted by the handshake, refused by the pin check, and audited.
    officer = Actor(officials.authenticate(kor.node, spec.tokens["officer"]), "cli-token")
    watcher_pin = next(e.fingerprint for e in cot_clients.enrolments(kor.node) if e.official_id == watcher_id)
    cot_clients.withdraw(kor.node, officer, watcher_pin, reason="device lost")
    listener = kor.server.cot
    assert listener is not None
    before = listener.turned_away
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            tls_client(spec, cert, key).wrap_socket(raw, server_hostname="127.0.0.1") as conn:
        assert conn.recv(1) == b""  # closed without a byte
    wait_for(lambda: listener.turned_away == before + 1, "the withdrawn certificate turned away")
    failed = [e for e in audit_entries(kor, "authenticate") if e.via == "cot"]
    assert any(watcher_pin in " ".join(e.reasons) for e in failed)
    assert [e.action for e in audit_entries(kor, "cot.")] == ["cot.enrol", "cot.enrol", "cot.withdraw"]


def test_a_suspended_officials_connection_is_closed(tmp_path: Path) -> None:
    """The register is re-read while a TAK client stays connected: once its official is suspended, the next
    event it sends ends the connection, and nothing it sent after is originated."""
    spec, certs = prepare(tmp_path)
    running = {"KOR": start(spec)}
    kor = running["KOR"]
    try:
        port, listener = kor.server.cot_port, kor.server.cot
        assert port is not None and listener is not None
        cert, key, analyst_id = certs["analyst"]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                tls_client(spec, cert, key).wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            conn.sendall(labelled_update("KOR-SUSPENDED", "II", 1))
            wait_for(lambda: listener.accepted == 1, "the first event originated")
            officer = Actor(officials.authenticate(kor.node, spec.tokens["officer"]), "cli-token")
            officials.suspend(kor.node, officer, analyst_id, reason="under investigation")
            gates = kor.server.feed.feed.reader_gates if kor.server.feed is not None else set()
            wait_for(lambda: any(g.subject.id == analyst_id and g.subject.status.value == "suspended" for g in gates),
                     "the register re-read by the feed")
            conn.sendall(labelled_update("KOR-SUSPENDED", "II", 2))
            closed = b""
            for _ in range(100):  # bounded: what the node still sent before closing, then the end
                chunk = conn.recv(65536)
                if not chunk:
                    break
                closed += chunk
            else:
                raise AssertionError("the connection stayed open")
        assert listener.accepted == 1
    finally:
        stop_all(running)
