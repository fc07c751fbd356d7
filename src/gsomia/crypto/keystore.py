"""A node's keys on disk, in DATA/keys (mode 0700; every private key PKCS#8-encrypted, mode 0600).

    keys/node.json            party, node, generations (newest first): kid, created_at
    keys/sign-<kid>.key.pem   Ed25519 signing key          keys/sign-<kid>.crt.pem  its certificate
    keys/agree-<kid>.key.pem  X25519 key peers seal to
                              (a generation whose signing key is on a PKCS#11 token has no sign-<kid>.key.pem:
                              node.json names the key's label on the token, `pkcs11_key_label`)
    keys/root.key.pem         the party root (demo only: a real national root stays offline)
    keys/root.crt.pem, tls.key.pem, tls.crt.pem, ca.crt.pem   mutual TLS

The passphrase comes from GSOMIA_KEY_PASSPHRASE, or from the file named by
GSOMIA_KEY_PASSPHRASE_FILE; it is never written anywhere. Loading refuses keys that group or
others could read, as ssh does.
"""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from gsomia.crypto.errors import KeyStoreError
from gsomia.crypto.keyfiles import read_private, write_private
from gsomia.crypto.keyring import KeyRing
from gsomia.crypto.keys import Ed25519Signer, NodeKeys, Signer
from gsomia.crypto.pkcs11 import Pkcs11Token
from gsomia.crypto.pki import (
    RootCA,
    fingerprint,
    issue_node_tls,
    issue_signing_certificate,
    make_root_ca,
)

FORMAT = "gsomia-keystore/1"


def passphrase_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    env = os.environ if environ is None else environ
    if env.get("GSOMIA_KEY_PASSPHRASE"):
        return env["GSOMIA_KEY_PASSPHRASE"].encode()
    if env.get("GSOMIA_KEY_PASSPHRASE_FILE"):
        try:
            value = Path(env["GSOMIA_KEY_PASSPHRASE_FILE"]).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise KeyStoreError(f"cannot read the passphrase file: {exc.strerror}") from None
        if value:
            return value
    raise KeyStoreError("no key passphrase: set GSOMIA_KEY_PASSPHRASE or GSOMIA_KEY_PASSPHRASE_FILE")


def keys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "keys"


def _check_dir(directory: Path) -> None:
    if not directory.is_dir():
        raise KeyStoreError(f"no key store in {directory.parent} (run `gsomia keys init`)")
    if stat.S_IMODE(directory.stat().st_mode) & 0o077:
        raise KeyStoreError(f"{directory} is open to group or others (chmod 700)")


def _meta(directory: Path) -> dict[str, Any]:
    try:
        meta = json.loads((directory / "node.json").read_text())
    except (OSError, ValueError) as exc:
        raise KeyStoreError(f"node.json unreadable: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise KeyStoreError("node.json is not a gsomia key store")
    return meta


def _save_meta(directory: Path, meta: dict[str, Any]) -> None:
    tmp = directory / "node.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    tmp.replace(directory / "node.json")


def _write_generation(directory: Path, keys: NodeKeys, root: RootCA, passphrase: bytes,
                      token_key_label: str | None = None) -> dict[str, Any]:
    kid = keys.kid.hex()
    signer = keys.signer
    generation: dict[str, Any] = {"kid": kid, "created_at": keys.created_at.isoformat(),
                                  "public": keys.public.to_dict()}
    if token_key_label is not None:
        generation["pkcs11_key_label"] = token_key_label  # the private key stays on the token
    elif isinstance(signer, Ed25519Signer):
        write_private(directory / f"sign-{kid}.key.pem", signer.private_key, passphrase)
    else:
        raise KeyStoreError("only in-memory Ed25519 keys are kept on disk; token keys stay on the token")
    write_private(directory / f"agree-{kid}.key.pem", keys.agreement, passphrase)
    cert = issue_signing_certificate(root, keys, at=keys.created_at)
    (directory / f"sign-{kid}.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return generation


def _root(directory: Path, passphrase: bytes) -> RootCA:
    key = read_private(directory / "root.key.pem", passphrase)
    cert = x509.load_pem_x509_certificate((directory / "root.crt.pem").read_bytes())
    return RootCA(party=_meta(directory)["party"], key=key, certificate=cert)


def init_keystore(data_dir: Path, party: str, node: str, *, passphrase: bytes,
                  at: datetime | None = None, tls_names: tuple[str, ...] = ()) -> KeyRing:
    """Create a node's keys: party root (demo), TLS identity (for localhost, 127.0.0.1 and `tls_names`: the
    host names or addresses partners reach it by), first signing/agreement generation."""
    directory = keys_dir(data_dir)
    if (directory / "node.json").exists():
        raise KeyStoreError(f"{directory} already holds keys (use `gsomia keys rotate`)")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    now = at or datetime.now(timezone.utc)
    root = make_root_ca(party, at=now)
    write_private(directory / "root.key.pem", root.key, passphrase)
    (directory / "root.crt.pem").write_bytes(root.certificate.public_bytes(serialization.Encoding.PEM))
    addresses = tuple(n for n in tls_names if _is_address(n))
    names = tuple(n for n in tls_names if not _is_address(n))
    issue_node_tls(root, node, at=now, dns_names=("localhost", *names), ips=("127.0.0.1", *addresses)).write(
        directory, passphrase)
    keys = NodeKeys.generate(party, node, at=now)
    generation = _write_generation(directory, keys, root, passphrase)
    _save_meta(directory, {"format": FORMAT, "party": party, "node": node, "generations": [generation]})
    return KeyRing([keys])


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def load_keyring(data_dir: Path, *, passphrase: bytes) -> KeyRing:
    """The node's key ring from DATA/keys."""
    return load_keyring_at(keys_dir(data_dir), passphrase=passphrase)


def load_keyring_at(directory: Path, *, passphrase: bytes, token: Pkcs11Token | None = None) -> KeyRing:
    """The key ring from a keys directory configured elsewhere than DATA/keys; generations whose signing
    key is on a PKCS#11 token sign with it there (`token`: the node's pkcs11_* settings)."""
    _check_dir(directory)
    meta = _meta(directory)
    keys = []
    for generation in meta["generations"]:
        kid = generation["kid"]
        agree = read_private(directory / f"agree-{kid}.key.pem", passphrase)
        if not isinstance(agree, X25519PrivateKey):
            raise KeyStoreError(f"generation {kid}: unexpected key types")
        node_keys = NodeKeys(meta["party"], meta["node"], _signer(directory, generation, passphrase, token), agree,
                             datetime.fromisoformat(generation["created_at"]))
        if node_keys.kid.hex() != kid:
            raise KeyStoreError(f"generation {kid}: key does not match its id")
        keys.append(node_keys)
    return KeyRing(keys)


def _signer(directory: Path, generation: dict[str, Any], passphrase: bytes,
            token: Pkcs11Token | None) -> Signer:
    kid, label = generation["kid"], generation.get("pkcs11_key_label")
    if label is None:
        sign = read_private(directory / f"sign-{kid}.key.pem", passphrase)
        if not isinstance(sign, Ed25519PrivateKey):
            raise KeyStoreError(f"generation {kid}: unexpected key types")
        return Ed25519Signer(sign)
    if token is None:
        raise KeyStoreError(f"generation {kid} signs with key {label!r} on a PKCS#11 token: set pkcs11_module, "
                            "pkcs11_token_label and the PIN (GSOMIA_PKCS11_PIN or pkcs11_pin_file)")
    return token.signer(str(label))


def rotate_keystore(data_dir: Path, *, passphrase: bytes, at: datetime | None = None,
                    token: Pkcs11Token | None = None, token_key_label: str | None = None) -> NodeKeys:
    """A new generation seals and signs from now on; the older ones keep opening until retired. With a
    `token` and `token_key_label`, its signing key is that key pair on the token (generated there if absent)."""
    directory = keys_dir(data_dir)
    _check_dir(directory)
    meta = _meta(directory)
    if token is not None and token_key_label is not None:
        used = [g["kid"] for g in meta["generations"] if g.get("pkcs11_key_label") == token_key_label]
        if used:
            raise KeyStoreError(f"the token key {token_key_label!r} is generation {used[0]} already: "
                                "set a new pkcs11_key_label to rotate")
        keys = NodeKeys.generate(meta["party"], meta["node"], at=at, signer=token.signer_or_new(token_key_label))
    else:
        token_key_label = None
        keys = NodeKeys.generate(meta["party"], meta["node"], at=at)
    meta["generations"].insert(0, _write_generation(directory, keys, _root(directory, passphrase), passphrase,
                                                    token_key_label))
    _save_meta(directory, meta)
    return keys


def retire_key(data_dir: Path, kid: str) -> None:
    """Destroy an old generation's private keys: what was sealed to it can no longer be opened."""
    directory = keys_dir(data_dir)
    _check_dir(directory)
    meta = _meta(directory)
    kids = [g["kid"] for g in meta["generations"]]
    if kid not in kids:
        raise KeyStoreError(f"no generation {kid}")
    if kid == kids[0]:
        raise KeyStoreError("cannot retire the current generation; rotate first")
    retired = next(g for g in meta["generations"] if g["kid"] == kid)
    meta["generations"] = [g for g in meta["generations"] if g["kid"] != kid]
    # The public half stays on record: what it signed (audit checkpoints, certificates) still verifies.
    meta.setdefault("retired", []).append({"kid": kid, "public": retired["public"],
                                           "retired_at": datetime.now(timezone.utc).isoformat()})
    _save_meta(directory, meta)
    for name in (f"sign-{kid}.key.pem", f"agree-{kid}.key.pem"):
        (directory / name).unlink(missing_ok=True)


def public_history(data_dir: Path) -> list[dict[str, Any]]:
    """The public keys of every generation this node has had, current first, retired ones last: what
    the node signed with any of them (e.g. its audit checkpoints) can be checked against them."""
    directory = keys_dir(data_dir)
    _check_dir(directory)
    meta = _meta(directory)
    return [dict(g["public"]) for g in meta["generations"]] + [dict(r["public"]) for r in meta.get("retired", [])]


def export_public(data_dir: Path) -> dict[str, Any]:
    """What peers need: the current generation's public keys and the node's certificates."""
    directory = keys_dir(data_dir)
    _check_dir(directory)
    document = dict(_meta(directory)["generations"][0]["public"])
    tls_pem = (directory / "tls.crt.pem").read_bytes()
    document.update({
        "signing_certificate": (directory / f"sign-{document['kid']}.crt.pem").read_text(),
        "tls_certificate": tls_pem.decode(),
        "tls_fingerprint_sha256": fingerprint(x509.load_pem_x509_certificate(tls_pem)),
        "root_certificate": (directory / "root.crt.pem").read_text(),
    })
    return document
