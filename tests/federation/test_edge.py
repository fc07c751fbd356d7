"""A running node's edge (issue 13): TLS 1.3 only on every port, the peer port asks every caller for a
partner's certificate, proxy headers are not believed, and the failed-login throttle counts the TCP peer."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, start, stop_all

from gsomia.demo.loopback import create_federation
from gsomia.services.throttle import MAX_FAILURES


@pytest.fixture(scope="module")
def kor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    base: Path = tmp_path_factory.mktemp("edge")
    specs = create_federation(base, passphrase=PASSPHRASE, parties=("KOR", "JPN"))
    running = {party: start(spec) for party, spec in specs.items()}
    yield running["KOR"]
    stop_all(running)


def _handshake(port: int, context: ssl.SSLContext) -> str:
    """The TLS version agreed once the server has answered (a TLS 1.3 server refuses a missing client
    certificate only after the handshake, in its first record); ConnectionError if it answered nothing."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        if not tls.recv(1):
            raise ConnectionError("closed without an answer")
        return str(tls.version())


def _client(maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the server's identity is not the point
    context.maximum_version = maximum
    return context


def test_tls_1_3_only_on_the_api_and_peer_ports(kor: RunningNode) -> None:
    assert _handshake(kor.spec.api_port, _client()) == "TLSv1.3"
    for port in (kor.spec.api_port, kor.spec.peer_port):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _handshake(port, _client(ssl.TLSVersion.TLSv1_2))


def test_the_peer_port_asks_every_caller_for_a_partners_certificate(kor: RunningNode) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(kor.spec.peer_port, _client())  # no client certificate: refused


def test_R7_2_a_forged_forwarded_for_neither_evades_the_throttle_nor_reaches_the_audit(kor: RunningNode) -> None:
    officer = kor.client("officer")
    assert officer.get("/v1/whoami").status_code == 200  # the officer's token is known from this address
    context = _client()
    with httpx.Client(base_url=kor.spec.api_url, verify=context, timeout=10) as client:
        statuses = [client.get("/v1/whoami", headers={"Authorization": f"Bearer gsomia_guess-{n}",
                                                     "X-Forwarded-For": f"203.0.113.{n}"}).status_code
                    for n in range(MAX_FAILURES + 5)]
    assert statuses.count(429) >= 5  # one budget for the TCP peer, whatever address it claims
    entries = officer.get("/v1/audit/entries", params={"limit": 1000}).json()["entries"]  # still works
    throttled = [e for e in entries if e["action"] == "authenticate.throttled"]
    assert throttled and all("127.0.0.1" in str(e["reasons"]) for e in throttled)
    assert "203.0.113" not in str(entries)
