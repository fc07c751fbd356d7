"""The crypto layer: seal / open COSE envelopes, node keys and key rings, PKI, signed records.

Callers outside `gsomia.crypto` use only what is listed here; `_cose` is hazardous materials.
Errors are drawn as a tree in `gsomia.crypto.errors`.
"""

from gsomia.crypto.adapters import RingCheckpointSigner, RingSealer, signature_check
from gsomia.crypto.at_rest import open_at_rest, seal_at_rest
from gsomia.crypto.batches import BatchSignature, BatchSigningKey, Inclusion, sign_batch, verify_batch
from gsomia.crypto.derived import derived_secret
from gsomia.crypto.envelope import ECDH_ES, ECDH_SS, Opened, seal
from gsomia.crypto.envelope import open_envelope as open  # the name; shadows the builtin here only
from gsomia.crypto.errors import CryptoError, InvalidBatchSignature, InvalidEnvelope, InvalidRecord, KeyStoreError
from gsomia.crypto.keyring import KeyRing
from gsomia.crypto.keys import KeyDirectory, NodeKeys, PublicKeys
from gsomia.crypto.keystore import (
    export_public,
    init_keystore,
    load_keyring,
    load_keyring_at,
    passphrase_from_env,
    public_history,
    retire_key,
    rotate_keystore,
)
from gsomia.crypto.pkcs11 import Pkcs11Token
from gsomia.crypto.pki import (
    PartyPKI,
    build_loopback_pki,
    certificate_from_pem,
    check_pin,
    client_context,
    client_ssl_context,
    enrolled_clients_context,
    fingerprint,
    party_of,
    server_context,
    server_ssl_context,
    trust_enrolled,
)
from gsomia.crypto.records import VerifiedRecord, destruction_certificate, sign_record, sign_records, verify_record
from gsomia.crypto.trust import load_trust

__all__ = [
    # envelopes
    "seal", "open", "Opened", "ECDH_SS", "ECDH_ES", "seal_at_rest", "open_at_rest",
    # the shapes the services declared: ContentSealer, CheckpointSigner, SignatureCheck
    "RingSealer", "RingCheckpointSigner", "signature_check",
    # errors
    "CryptoError", "InvalidEnvelope", "InvalidRecord", "InvalidBatchSignature", "KeyStoreError",
    # keys
    "NodeKeys", "PublicKeys", "KeyRing", "KeyDirectory",
    "init_keystore", "load_keyring", "load_keyring_at", "rotate_keystore", "retire_key", "export_public",
    "public_history",
    "load_trust", "passphrase_from_env", "derived_secret",
    "Pkcs11Token",  # keys on a PKCS#11 token (the node's pkcs11_* settings)
    # signed records
    "sign_record", "sign_records", "verify_record", "VerifiedRecord", "destruction_certificate",
    # batch signing: one signature over a Merkle root (signed records in a batch, the feed's batches)
    "sign_batch", "verify_batch", "BatchSignature", "BatchSigningKey", "Inclusion",
    # PKI
    "build_loopback_pki", "PartyPKI", "server_ssl_context", "client_ssl_context", "server_context", "client_context",
    "fingerprint", "check_pin", "enrolled_clients_context", "trust_enrolled", "certificate_from_pem",
    "party_of",
]
