"""The crypto layer's surface: a curated `__all__`, hazardous internals private, imports inward only."""

from __future__ import annotations

import ast
from pathlib import Path

import gsomia.crypto

CRYPTO = Path(gsomia.crypto.__file__).parent


def test_curated_public_api() -> None:
    assert set(gsomia.crypto.__all__) == {
        "seal", "open", "Opened", "ECDH_SS", "ECDH_ES",
        "CryptoError", "InvalidEnvelope", "InvalidRecord", "KeyStoreError",
        "KeyRing", "NodeKeys", "PublicKeys", "KeyDirectory",
        "seal_at_rest", "open_at_rest", "RingSealer", "RingCheckpointSigner", "signature_check",
        "init_keystore", "load_keyring", "load_keyring_at", "rotate_keystore", "retire_key", "export_public",
        "public_history",
        "load_trust",
        "passphrase_from_env",
        "derived_secret",
        "Pkcs11Token",
        "sign_record", "sign_records", "verify_record", "VerifiedRecord", "destruction_certificate",
        "sign_batch", "verify_batch", "BatchSignature", "BatchSigningKey", "Inclusion", "InvalidBatchSignature",
        "build_loopback_pki", "PartyPKI", "server_ssl_context", "client_ssl_context", "fingerprint",
        "check_pin", "party_of", "server_context", "client_context",
        "enrolled_clients_context", "trust_enrolled", "certificate_from_pem",
    }
    for name in gsomia.crypto.__all__:
        assert hasattr(gsomia.crypto, name), name
    assert gsomia.crypto.open.__module__ == "gsomia.crypto.envelope"  # ours, not the builtin


def test_one_error_type_per_failure_family() -> None:
    for error in (gsomia.crypto.InvalidEnvelope, gsomia.crypto.InvalidRecord, gsomia.crypto.InvalidBatchSignature,
                  gsomia.crypto.KeyStoreError):
        assert issubclass(error, gsomia.crypto.CryptoError)


def test_crypto_imports_nothing_of_the_other_layers() -> None:
    """Arrows point inward: crypto knows labels only as bytes; it imports no domain, storage, services…"""
    for path in CRYPTO.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                if module.startswith("gsomia."):
                    assert module.startswith("gsomia.crypto"), f"{path.name} imports {module}"
