"""X.509 for the federation: one national root CA per party, one TLS certificate per node.

A node certificate serves both ends of mutual TLS (EKU serverAuth + clientAuth), names its party in
the subject (C=KR/JP/US, O=gsomia <trigraph>, OU=<trigraph>) and, machine-readably, in a SAN URI
`urn:gsomia:node:<trigraph>`; its SANs also cover localhost and 127.0.0.1 for loopback federations.
A signing certificate binds the node's Ed25519 key (records, envelopes) to the same root.
TLS keys are ECDSA P-256: every TLS stack speaks it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gsomia.crypto.errors import CryptoError
from gsomia.crypto.keyfiles import write_private
from gsomia.crypto.keys import NodeKeys, VerifyKey

COUNTRY = {"KOR": "KR", "JPN": "JP", "USA": "US"}
NODE_URI_PREFIX = "urn:gsomia:node:"


@dataclass(frozen=True)
class RootCA:
    party: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True)
class NodeTLS:
    """A node's TLS identity and the roots it trusts."""

    party: str
    node: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    root: x509.Certificate

    def write(self, directory: Path, passphrase: bytes) -> TLSFiles:
        """PEM files for uvicorn / ssl (which load certificates from files); key encrypted, 0600."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        files = TLSFiles(directory / "tls.crt.pem", directory / "tls.key.pem", directory / "ca.crt.pem")
        files.certificate.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        write_private(files.key, self.key, passphrase)
        files.ca.write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
        return files


@dataclass(frozen=True)
class TLSFiles:
    certificate: Path
    key: Path
    ca: Path


def _name(party: str, common_name: str) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, COUNTRY[party])] if party in COUNTRY else []
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"gsomia {party}"),
              x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, party),
              x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    return x509.Name(attrs)


def make_root_ca(party: str, *, at: datetime | None = None, days: int = 3650) -> RootCA:
    now = at or datetime.now(timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(party, f"gsomia {party} national root")
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return RootCA(party, key, cert)


def _leaf(ca: RootCA, subject: x509.Name, public_key: ec.EllipticCurvePublicKey | VerifyKey, now: datetime,
          days: int) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca.certificate.subject)
        .public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )


def issue_node_tls(ca: RootCA, node: str, *, at: datetime | None = None, days: int = 825,
                   dns_names: tuple[str, ...] = ("localhost",), ips: tuple[str, ...] = ("127.0.0.1",)) -> NodeTLS:
    now = at or datetime.now(timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    sans.append(x509.UniformResourceIdentifier(NODE_URI_PREFIX + ca.party))
    cert = (
        _leaf(ca, _name(ca.party, node), key.public_key(), now, days)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return NodeTLS(ca.party, node, key, cert, ca.certificate)


def issue_signing_certificate(ca: RootCA, keys: NodeKeys, *, at: datetime | None = None,
                              days: int = 825) -> x509.Certificate:
    """Binds a node's signing key (Ed25519, or P-256 on a token) to its national root."""
    now = at or datetime.now(timezone.utc)
    return (
        _leaf(ca, _name(ca.party, f"{keys.node} signing {keys.kid.hex()}"), keys.public.verify_key, now, days)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(NODE_URI_PREFIX + ca.party)]),
                       critical=False)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca.key, hashes.SHA256())
    )


def party_of(cert: x509.Certificate) -> str:
    """The trigraph from the `urn:gsomia:node:` SAN URI: what a peer is, for the policy."""
    try:
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    parties = [u.removeprefix(NODE_URI_PREFIX) for u in uris if u.startswith(NODE_URI_PREFIX)]
    if len(parties) != 1:
        raise CryptoError("certificate names no single gsomia party")
    return parties[0]


def fingerprint(cert: x509.Certificate | bytes) -> str:
    """SHA-256 over the DER certificate, hex: what a peer is pinned by."""
    der = cert if isinstance(cert, bytes) else cert.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def check_pin(peer_der: bytes | None, pinned: set[str] | frozenset[str]) -> None:
    """Raise unless the peer's certificate (`SSLSocket/SSLObject.getpeercert(binary_form=True)`) is pinned."""
    if peer_der is None or fingerprint(peer_der) not in {p.lower().replace(":", "") for p in pinned}:
        raise CryptoError("peer certificate is not pinned")


ClientCertificates = Literal["none", "optional", "required"]
TLSMinimum = Literal["1.3", "1.2"]
# TLS 1.2, when a node's settings allow it: forward-secret key exchange and AEAD ciphers only (no CBC, no RSA
# key transport); TLS 1.3's suites are all AEAD.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def server_context(certificate: Path, key: Path, passphrase: bytes, *, client_roots: bytes = b"",
                   client_certificates: ClientCertificates = "required", minimum: TLSMinimum = "1.3",
                   ) -> ssl.SSLContext:
    """A node's TLS server, 1.3 only unless `minimum` is "1.2": its certificate and key (encrypted PEM);
    client certificates from `client_roots` (PEM bundle) required, optional or not asked for. Required
    with no roots: nobody gets in, which is right for a peer port before any partner is configured."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _identity(context, certificate, key, passphrase, minimum)
    if client_certificates != "none":
        context.verify_mode = ssl.CERT_REQUIRED if client_certificates == "required" else ssl.CERT_OPTIONAL
        if client_roots:
            context.load_verify_locations(cadata=client_roots.decode("ascii"))
    return context


def enrolled_clients_context(certificate: Path, key: Path, passphrase: bytes, *, enrolled: bytes,
                             minimum: TLSMinimum = "1.3") -> ssl.SSLContext:
    """A TLS server that admits only the client certificates enrolled one by one (`enrolled`: a PEM bundle of
    the certificates themselves, each a trust anchor of its own, CA-issued or self-signed): the handshake
    fails for any other, before a byte of application data is read. More are trusted later with
    `trust_enrolled`; one withdrawn is refused by the caller's pin check after the handshake."""
    context = server_context(certificate, key, passphrase, client_certificates="required", minimum=minimum)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # an enrolled leaf is trusted as itself
    trust_enrolled(context, enrolled)
    return context


def trust_enrolled(context: ssl.SSLContext, enrolled: bytes) -> None:
    """Add enrolled client certificates (PEM bundle) to a live server context's trust anchors."""
    if enrolled.strip():
        try:
            context.load_verify_locations(cadata=enrolled.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError) as bad:
            raise CryptoError(f"enrolled certificates are not a PEM bundle: {bad}") from None


def certificate_from_pem(pem: bytes) -> x509.Certificate:
    """One X.509 certificate from PEM; CryptoError if it is not one."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as bad:
        raise CryptoError(f"not a PEM X.509 certificate: {bad}") from None


def client_context(certificate: Path, key: Path, passphrase: bytes, *, server_roots: bytes,
                   minimum: TLSMinimum = "1.3") -> ssl.SSLContext:
    """A node's TLS client (1.3 only unless `minimum` is "1.2"): presents its node certificate, checks the
    server's against `server_roots` (PEM bundle: the partners' national roots) and its name."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _identity(context, certificate, key, passphrase, minimum)
    if server_roots:
        context.load_verify_locations(cadata=server_roots.decode("ascii"))
    return context


def _identity(context: ssl.SSLContext, certificate: Path, key: Path, passphrase: bytes,
              minimum: TLSMinimum = "1.3") -> None:
    if minimum == "1.2":
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(TLS12_CIPHERS)
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(certificate, key, password=passphrase)


def server_ssl_context(files: TLSFiles, passphrase: bytes, trusted_roots: list[Path] | None = None) -> ssl.SSLContext:
    """TLS 1.3 server that requires a client certificate from one of `trusted_roots` (default: own root)."""
    return server_context(files.certificate, files.key, passphrase, client_roots=_bundle(files, trusted_roots))


def client_ssl_context(files: TLSFiles, passphrase: bytes, trusted_roots: list[Path] | None = None) -> ssl.SSLContext:
    """TLS 1.3 client presenting its node certificate and checking the server's against the roots."""
    return client_context(files.certificate, files.key, passphrase, server_roots=_bundle(files, trusted_roots))


def _bundle(files: TLSFiles, roots: list[Path] | None) -> bytes:
    return b"".join(root.read_bytes() for root in roots or [files.ca])


@dataclass(frozen=True)
class PartyPKI:
    root: RootCA
    tls: NodeTLS
    keys: NodeKeys
    signing_certificate: x509.Certificate


def build_loopback_pki(parties: tuple[str, ...] = ("KOR", "JPN", "USA"), *,
                       at: datetime | None = None) -> dict[str, PartyPKI]:
    """One root, one node (TLS + signing + agreement keys) per party, all for 127.0.0.1: tests, demos."""
    result = {}
    for party in parties:
        root = make_root_ca(party, at=at)
        node = f"{party.lower()}-node"
        keys = NodeKeys.generate(party, node, at=at)
        result[party] = PartyPKI(root, issue_node_tls(root, node, at=at), keys,
                                 issue_signing_certificate(root, keys, at=at))
    return result
