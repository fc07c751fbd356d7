"""Whom to believe: signers' published keys and signing certificates, as a KeyDirectory."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID

from gsomia.crypto.errors import CryptoError, KeyStoreError
from gsomia.crypto.keys import KeyDirectory, PublicKeys
from gsomia.crypto.pki import party_of


def load_trust(paths: list[Path]) -> KeyDirectory:
    """Signers to trust, from exported public-key documents (*.json) and signing certificates
    (*.pem), given as files or as directories of them. Where root certificates are among them, a
    signing certificate must have been issued by one of those roots."""
    trusted = KeyDirectory()
    files = [(f, True) for p in paths if p.is_dir() for f in sorted(p.iterdir()) if f.is_file()]
    files += [(p, False) for p in paths if not p.is_dir()]
    certificates: list[x509.Certificate] = []
    for file, in_directory in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"{file}: {exc.strerror}") from None
        try:
            if data.lstrip()[:1] == b"{":
                trusted.add(PublicKeys.from_dict(json.loads(data)))
            elif b"-----BEGIN CERTIFICATE-----" in data:
                certificates += x509.load_pem_x509_certificates(data)
            else:
                raise ValueError("neither a public key document nor a PEM certificate")
        except (ValueError, CryptoError) as exc:
            if not in_directory:  # other files in a trust directory are not ours to judge
                raise KeyStoreError(f"{file}: {exc}") from None
    roots = [c for c in certificates if _is_ca(c)]
    for cert in certificates:
        key = cert.public_key()
        if _is_ca(cert) or not _signs_content(cert) or not isinstance(key, (Ed25519PublicKey,
                                                                             ec.EllipticCurvePublicKey)):
            continue
        if roots and not any(_issued_by(cert, root) for root in roots):
            raise KeyStoreError(f"signing certificate {cert.subject.rfc4514_string()} is not issued by a given root")
        common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        trusted.add(PublicKeys(_party_or_unknown(cert), str(common[0].value) if common else "?", key, None))
    return trusted


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _signs_content(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment)
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, root: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(root)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def _party_or_unknown(cert: x509.Certificate) -> str:
    try:
        return party_of(cert)
    except CryptoError:
        return "?"
