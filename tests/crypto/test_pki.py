"""The loopback PKI: certificates that say who a node is, and mutual TLS built from them."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gsomia.crypto import (
    CryptoError,
    PartyPKI,
    build_loopback_pki,
    check_pin,
    client_ssl_context,
    fingerprint,
    party_of,
    server_context,
    server_ssl_context,
)

PASS = b"tls pass"


@pytest.fixture(scope="module")
def pki() -> dict[str, PartyPKI]:
    return build_loopback_pki()


def test_node_certificate_contents(pki: dict[str, PartyPKI]) -> None:
    cert = pki["KOR"].tls.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "KR"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "KOR"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert party_of(cert) == "KOR" and party_of(pki["USA"].tls.certificate) == "USA"
    cert.verify_directly_issued_by(pki["KOR"].root.certificate)


def test_signing_certificate_binds_the_ed25519_key(pki: dict[str, PartyPKI]) -> None:
    party = pki["JPN"]
    key = party.signing_certificate.public_key()
    assert isinstance(key, Ed25519PublicKey)
    assert key.public_bytes_raw() == party.keys.public.verify_key.public_bytes_raw()  # type: ignore[union-attr]
    party.signing_certificate.verify_directly_issued_by(party.root.certificate)


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> tuple[bytes | None, str | None]:
    """Connect over 127.0.0.1; return the server certificate the client saw and the server's error."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server_error: list[str] = []

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")
                tls.recv(1)
        except (ssl.SSLError, OSError) as exc:
            server_error.append(type(exc).__name__)
        finally:
            listener.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                assert tls.recv(2) == b"ok"
                tls.sendall(b"x")
                return tls.getpeercert(binary_form=True), None
    except (ssl.SSLError, OSError):
        return None, "client refused"
    finally:
        thread.join(5)


def test_mutual_tls_between_parties(pki: dict[str, PartyPKI], tmp_path: Path) -> None:
    kor = pki["KOR"].tls.write(tmp_path / "kor", PASS)
    jpn = pki["JPN"].tls.write(tmp_path / "jpn", PASS)
    server = server_ssl_context(kor, PASS, trusted_roots=[kor.ca, jpn.ca])
    client = client_ssl_context(jpn, PASS, trusted_roots=[kor.ca])
    peer, error = _handshake(server, client)
    assert error is None and peer is not None
    check_pin(peer, {fingerprint(pki["KOR"].tls.certificate)})
    with pytest.raises(CryptoError, match="pinned"):
        check_pin(peer, {fingerprint(pki["JPN"].tls.certificate)})


def test_client_from_untrusted_root_is_refused(pki: dict[str, PartyPKI], tmp_path: Path) -> None:
    kor = pki["KOR"].tls.write(tmp_path / "kor", PASS)
    usa = pki["USA"].tls.write(tmp_path / "usa", PASS)
    server = server_ssl_context(kor, PASS)  # trusts only its own root
    client = client_ssl_context(usa, PASS, trusted_roots=[kor.ca])
    peer, _ = _handshake(server, client)
    assert peer is None


def test_tls_key_file_is_encrypted_and_private(pki: dict[str, PartyPKI], tmp_path: Path) -> None:
    files = pki["KOR"].tls.write(tmp_path / "kor", PASS)
    assert files.key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert files.key.stat().st_mode & 0o077 == 0


def test_tls_1_2_when_allowed_offers_forward_secret_aead_suites_only(pki: dict[str, PartyPKI], tmp_path: Path) -> None:
    files = pki["KOR"].tls.write(tmp_path / "kor", PASS)
    strict = server_context(files.certificate, files.key, PASS)
    assert strict.minimum_version == ssl.TLSVersion.TLSv1_3
    lenient = server_context(files.certificate, files.key, PASS, minimum="1.2")
    assert lenient.minimum_version == ssl.TLSVersion.TLSv1_2
    tls12 = [c for c in lenient.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 and all(c["kea"] == "kx-ecdhe" and c["aead"] for c in tls12), tls12
