"""The node's PKCS#11 token, from its settings: module, token label and the PIN, which comes from the
environment (GSOMIA_PKCS11_PIN) or from the file `pkcs11_pin_file` names (readable by the node's user only),
never from the settings file (which refuses a `pkcs11_pin` key: unknown settings are errors)."""

from __future__ import annotations

import os
import stat

from gsomia.config import Settings
from gsomia.crypto import Pkcs11Token
from gsomia.services.errors import KeysUnavailable

PIN_ENV = "GSOMIA_PKCS11_PIN"


def hardware_token(settings: Settings) -> Pkcs11Token | None:
    """The token the settings name, or None when the node keeps all its keys in files."""
    if settings.pkcs11_module is None:
        return None
    if settings.pkcs11_token_label is None:
        raise KeysUnavailable("pkcs11_module is set but pkcs11_token_label is not: name the token")
    return Pkcs11Token(settings.pkcs11_module, settings.pkcs11_token_label, _pin(settings))


def _pin(settings: Settings) -> str:
    if os.environ.get(PIN_ENV):
        return os.environ[PIN_ENV]
    path = settings.pkcs11_pin_file
    if path is None:
        raise KeysUnavailable(f"the PKCS#11 token needs its PIN: set {PIN_ENV} or pkcs11_pin_file")
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise KeysUnavailable(f"{path} is open to group or others (chmod 600)")
        pin = path.read_text(encoding="utf-8").strip()
    except OSError as bad:
        raise KeysUnavailable(f"cannot read the PKCS#11 PIN file: {bad.strerror}") from None
    if not pin:
        raise KeysUnavailable(f"the PKCS#11 PIN file {path} is empty")
    return pin
