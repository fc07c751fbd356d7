"""Private key files: PKCS#8, encrypted under the node's passphrase, mode 0600 from creation on."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from gsomia.crypto.errors import KeyStoreError

PrivateKey = Ed25519PrivateKey | X25519PrivateKey | ec.EllipticCurvePrivateKey


def write_private(path: Path, key: PrivateKey, passphrase: bytes) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(passphrase))
    # Created 0600 from the start: never a moment when the file is readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
    with os.fdopen(fd, "wb") as file:
        file.write(pem)


def read_private(path: Path, passphrase: bytes) -> Any:
    _check_private(path)
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except OSError as exc:
        raise KeyStoreError(f"{path.name}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise KeyStoreError(f"{path.name}: wrong passphrase, or not an encrypted private key") from None


def _check_private(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise KeyStoreError(f"{path.name}: {exc.strerror}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise KeyStoreError(f"{path} is readable by group or others (chmod 600)")
