"""Errors raised by the crypto layer.

    CryptoError              anything the crypto layer refuses
    ├── InvalidEnvelope      a sealed envelope that cannot be opened, whatever the reason
    ├── InvalidRecord        a signed record that does not verify
    ├── InvalidBatchSignature  a batch's signature over its Merkle root does not verify (batches.py)
    └── KeyStoreError        keys on disk missing, unreadable, wrongly protected or no passphrase

Like `cryptography.fernet.InvalidToken`, an envelope that fails for any reason raises the one
`InvalidEnvelope`; `reason` says why for logs, never a flag a caller could forget to check.
"""

from __future__ import annotations


class CryptoError(Exception):
    """The crypto layer refused; `reason` is a short human-readable cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidEnvelope(CryptoError):
    pass


class InvalidRecord(CryptoError):
    pass


class InvalidBatchSignature(CryptoError):
    pass


class KeyStoreError(CryptoError):
    pass
