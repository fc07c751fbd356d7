"""`gsomia keys …` (a node's keys) and `gsomia verify FILE` (offline: a signed record such as a
destruction certificate, or the audit checkpoints in an audit export / checkpoint JSON line).

The key passphrase comes from GSOMIA_KEY_PASSPHRASE or GSOMIA_KEY_PASSPHRASE_FILE, never from
an option: options end up in shell history and process listings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gsomia.cli.options import JsonOption

if TYPE_CHECKING:
    from gsomia.crypto import KeyDirectory

INVALID, UNREADABLE = 1, 2

keys_app = typer.Typer(help="A node's keys: signing, key agreement, TLS certificates.", no_args_is_help=True)

DATA = typer.Option(..., "--data", help="The node's data directory (keys live in DATA/keys).")


@keys_app.command("init")
def init_keys(
    data: Path = DATA,
    party: str = typer.Option(..., "--party", help="The node's party trigraph, e.g. KOR."),
    node: str = typer.Option("", "--node", help="The node's name (default: <party>-node)."),
    as_json: JsonOption = False,
) -> None:
    """Create the node's root (demo), TLS certificate, signing and agreement keys."""
    from gsomia.cli.output import fail
    from gsomia.crypto import CryptoError, init_keystore, passphrase_from_env

    try:
        ring = init_keystore(data, party.upper(), node or f"{party.lower()}-node", passphrase=passphrase_from_env())
    except CryptoError as exc:
        fail(exc.reason)
    _said({"party": ring.party, "node": ring.current.node, "keys": str(data / "keys"), "kid": ring.current.kid.hex()},
          f"keys for {ring.party}/{ring.current.node} in {data / 'keys'}; kid {ring.current.kid.hex()}", as_json)


def _said(fields: dict[str, object], text: str, as_json: bool) -> None:
    typer.echo(json.dumps(fields) if as_json else text)


@keys_app.command("rotate")
def rotate_keys(
    data: Path = DATA,
    retire: list[str] = typer.Option([], "--retire", help="Also destroy this old generation (kid, hex)."),
    as_json: JsonOption = False,
) -> None:
    """Start a new key generation; older ones keep opening what was sealed to them until retired. On a node
    whose settings name a PKCS#11 token (pkcs11_module, pkcs11_token_label, pkcs11_key_label), the new
    generation signs with the token's key, generated there if absent (docs/runbook.md)."""
    from gsomia.cli.output import fail
    from gsomia.config import CONFIG_FILE, ConfigError, load_settings
    from gsomia.crypto import CryptoError, passphrase_from_env, retire_key, rotate_keystore
    from gsomia.services.errors import KeysUnavailable
    from gsomia.services.hardware_keys import hardware_token

    try:
        settings = load_settings(data) if (data / CONFIG_FILE).exists() else None
        token = hardware_token(settings) if settings is not None else None
        label = settings.pkcs11_key_label if settings is not None else None
        if token is not None and label is None:
            fail("pkcs11_module is set but pkcs11_key_label is not: name the token key to sign with")
        keys = rotate_keystore(data, passphrase=passphrase_from_env(), token=token, token_key_label=label)
        for kid in retire:
            retire_key(data, kid)
    except CryptoError as exc:
        fail(exc.reason)
    except (ConfigError, KeysUnavailable) as bad:
        fail(str(bad))
    _said({"kid": keys.kid.hex(), "retired": retire, "token_key": label if token is not None else None},
          f"new generation {keys.kid.hex()}" + (f"; retired {', '.join(retire)}" if retire else ""), as_json)


@keys_app.command("export-public")
def export_public_keys(
    data: Path = DATA,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    as_json: JsonOption = False,
) -> None:
    """The public keys and certificates peers need, as JSON (always: --json changes nothing)."""
    from gsomia.cli.output import fail
    from gsomia.crypto import CryptoError, export_public

    try:
        document = json.dumps(export_public(data), indent=2, sort_keys=True) + "\n"
    except CryptoError as exc:
        fail(exc.reason)
    except (OSError, KeyError) as exc:
        fail(f"key store incomplete: {exc}")
    if output is None:
        sys.stdout.write(document)
    else:
        output.write_text(document)


def verify_command(
    file: Path = typer.Argument(..., help="A signed record (binary CBOR, or its base64)."),
    key: list[Path] = typer.Option([], "--key", "-k", help="Signer's exported public keys (.json) or certificate."),
    trust: Path | None = typer.Option(None, "--trust", help="A directory of trusted public keys / certificates."),
    data: Path | None = typer.Option(None, "--data", help="Also trust this node's own keys."),
    as_json: JsonOption = False,
) -> None:
    """Verify a signed record offline; print what was signed and by whom. Exit 1 if invalid, 2 if unreadable."""
    from gsomia.cli.output import fail
    from gsomia.crypto import InvalidRecord, KeyStoreError, load_keyring, load_trust, passphrase_from_env, verify_record

    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc.strerror}", UNREADABLE)
    record = _decode(raw)
    checkpoints = _checkpoints(raw) if record is None else None
    if record is None and checkpoints is None:
        fail(f"{file} is neither a signed record nor audit checkpoints (JSON Lines)", UNREADABLE)
    try:
        trusted = load_trust(key + ([trust] if trust else []))
        if data is not None:
            for generation in load_keyring(data, passphrase=passphrase_from_env()):
                trusted.add(generation.public)
    except KeyStoreError as exc:
        fail(exc.reason, UNREADABLE)
    if not len(trusted):
        fail("no key to verify with: give --key, --trust or --data", UNREADABLE)
    if checkpoints is not None:
        _verify_checkpoints(checkpoints, trusted, as_json)
        return
    assert record is not None  # noqa: S101 - one of the two was found above
    try:
        verified = verify_record(record, trusted=trusted)
    except InvalidRecord as exc:
        if as_json:
            typer.echo(json.dumps({"valid": False, "problem": exc.reason}))
        typer.echo(f"INVALID: {exc.reason}", err=True)
        raise typer.Exit(INVALID) from None
    signer = verified.signer
    if as_json:
        typer.echo(json.dumps({"valid": True, "type": verified.type, "signer": {
            "party": signer.party, "node": signer.node, "kid": signer.kid.hex()},
            "signed_at": verified.signed_at.isoformat(), "body": verified.body}, sort_keys=True, default=_show_bytes))
        return
    typer.echo(f"valid {verified.type}, signed by {signer.party}/{signer.node} (kid {signer.kid.hex()}) "
               f"at {verified.signed_at.isoformat()}")
    typer.echo(json.dumps(verified.body, indent=2, sort_keys=True, default=_show_bytes))


def _decode(raw: bytes) -> bytes | None:
    """The record's bytes: as stored (binary), or base64 text; None if neither looks like a record."""
    import base64
    import binascii

    from gsomia.crypto import InvalidRecord
    from gsomia.crypto.records import record_signer_kid

    candidates = [raw]
    try:
        candidates.append(base64.b64decode(raw.strip(), validate=True))
    except (binascii.Error, ValueError):
        pass
    for candidate in candidates:
        try:
            record_signer_kid(candidate)
            return candidate
        except InvalidRecord:
            continue
    return None


def _show_bytes(value: object) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def _checkpoints(raw: bytes) -> list[dict[str, object]] | None:
    """The checkpoint lines of an audit export (or a file of checkpoint lines); None if it is not one."""
    try:
        lines = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    except (UnicodeDecodeError, ValueError):
        return None
    if not lines or not all(isinstance(line, dict) for line in lines):
        return None
    found = [line for line in lines if line.get("type") == "checkpoint"]
    return found or None


def _verify_checkpoints(checkpoints: list[dict[str, object]], trusted: KeyDirectory, as_json: bool) -> None:
    """Each checkpoint's signature over (count, head hash, time, key id), by a trusted node key. Exit 1 if any fails."""
    import base64
    import binascii

    from gsomia.cli.output import fail
    from gsomia.crypto import CryptoError, signature_check
    from gsomia.services.audit_chain import checkpoint_payload

    results: list[dict[str, object]] = []
    for number, c in enumerate(checkpoints, start=1):
        try:
            count, head, at, key_id = int(str(c["count"])), str(c["head_hash"]), str(c["at"]), str(c["key_id"])
            signature = base64.b64decode(str(c["signature"]), validate=True)
        except (KeyError, ValueError, binascii.Error) as exc:
            fail(f"checkpoint {number} is malformed: {exc}", UNREADABLE)
        kid = key_id.rpartition(":")[2]
        try:
            signer = trusted.public_key(bytes.fromhex(kid))
        except ValueError:
            signer = None
        problem = None if signer is not None else f"no trusted key {key_id}"
        if signer is not None:
            try:
                signature_check(signer)(checkpoint_payload(count, head, at, key_id), signature)
            except CryptoError as exc:
                problem = exc.reason
        results.append({"count": count, "head_hash": head, "at": at, "valid": problem is None, "problem": problem,
                        "signer": f"{signer.party}/{signer.node}" if signer is not None else None})
        if problem is not None:
            typer.echo(f"INVALID: checkpoint {count}: {problem}", err=True)
        elif not as_json and signer is not None:
            typer.echo(f"valid audit-checkpoint: {count} entries, head {head}, at {at}, signed by "
                       f"{signer.party}/{signer.node} (kid {signer.kid.hex()})")
    if as_json:
        typer.echo(json.dumps(results))
    if any(not r["valid"] for r in results):
        raise typer.Exit(INVALID)
