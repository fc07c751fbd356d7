"""TLS on both transports, with an ssl.SSLContext passed in (certificates belong to the crypto layer;
here a throwaway self-signed one for 127.0.0.1)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from gsomia.domain.catalog import Catalog
from gsomia.domain.officials import Role
from gsomia.domain.tracks import EndOfTrack, TrackMessage
from gsomia.feed.broker import AllowAll
from gsomia.feed.cot import CotWriter, parse_cot
from gsomia.feed.cot_listener import CotListener
from gsomia.feed.node import FeedNode
from gsomia.feed.peers import Peer
from gsomia.services.officials import authenticate

from .helpers import make_label, official
from .served import kor_feed


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = generate_private_key(SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=folder / "cert.pem")
    return server, client


def msg(seq: int) -> TrackMessage:
    return TrackMessage("KOR-TLS", seq, "KOR", "radar", 1.0, 9e9, make_label(), EndOfTrack("x"))


def test_cot_over_tls(catalog: Catalog, tls: tuple[ssl.SSLContext, ssl.SSLContext], tmp_path: Path) -> None:
    server_ctx, client_ctx = tls

    async def main() -> None:
        async with kor_feed(tmp_path) as (served, spec):
            listener = CotListener(served, authenticate(served.node, spec.tokens["analyst"]))
            port = await listener.start(ssl_context=server_ctx)
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
                for _ in range(500):
                    if listener.clients == 1:
                        break
                    await asyncio.sleep(0.01)
                writer.write(CotWriter().write(msg(1)))
                echoed = await asyncio.wait_for(reader.readuntil(b"</event>"), 10)
                assert parse_cot(echoed, catalog.schemes) == msg(1)
                writer.close()
                await writer.wait_closed()
            finally:
                await listener.close()

    asyncio.run(main())


def test_peer_link_over_tls(catalog: Catalog, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls

    async def main() -> None:
        key = Ed25519PrivateKey.generate()
        sensor = FeedNode("KOR", "KOR-sensor-1", key, catalog, official("KOR", "I", Role.NODE))
        kor = FeedNode("KOR", "KOR-node", Ed25519PrivateKey.generate(), catalog, official("KOR", "I", Role.NODE),
                       {"KOR-sensor-1": Peer("KOR-sensor-1", "KOR", key.public_key())})
        seen: list[int] = []
        kor.observer = lambda _node, m: seen.append(m.seq)
        port = await kor.serve(ssl_context=server_ctx)
        link = sensor.link_to(f"wss://127.0.0.1:{port}", AllowAll(), ssl_context=client_ctx)
        try:
            await asyncio.wait_for(link.connected.wait(), 10)
            for seq in (1, 2, 3):
                await sensor.originate(msg(seq))
            for _ in range(500):
                if len(seen) == 3:
                    break
                await asyncio.sleep(0.01)
            assert seen == [1, 2, 3]
        finally:
            await sensor.close()
            await kor.close()

    asyncio.run(main())
