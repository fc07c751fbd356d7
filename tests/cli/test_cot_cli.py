"""`gsomia cot enrol|list|withdraw`: the security officer pins TAK clients' certificates to officials of the
register; each change audited; bad certificates, unknown officials and unknown pins exit as documented."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .test_node_cli import node, run  # noqa: F401  (the fixture)


def certificate(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tak-eud-1")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_enrol_list_withdraw(node: Path, tmp_path: Path) -> None:  # noqa: F811
    me = json.loads(run("whoami", "--data", str(node), "--json"))["id"]
    cert = certificate(tmp_path / "eud.pem")
    enrolled = json.loads(run("cot", "enrol", me, "--cert", str(cert), "--reason", "field unit", "--data", str(node),
                              "--json"))
    assert enrolled["official_id"] == me and enrolled["subject"] == "CN=tak-eud-1"
    assert len(enrolled["fingerprint"]) == 64
    listed = json.loads(run("cot", "list", "--data", str(node), "--json"))
    assert [e["fingerprint"] for e in listed] == [enrolled["fingerprint"]]
    assert "error" in run("cot", "enrol", "OFF-nobody", "--cert", str(cert), "--reason", "x", "--data", str(node),
                          code=4)
    (tmp_path / "junk.pem").write_text("not a certificate")
    assert "not a PEM X.509 certificate" in run("cot", "enrol", me, "--cert", str(tmp_path / "junk.pem"), "--reason",
                                                "x", "--data", str(node), code=2)
    run("cot", "withdraw", enrolled["fingerprint"], "--reason", "device lost", "--data", str(node))
    assert json.loads(run("cot", "list", "--data", str(node), "--json")) == []
    run("cot", "withdraw", enrolled["fingerprint"], "--reason", "again", "--data", str(node), code=4)
    entries = json.loads(run("audit", "entries", "--limit", "1000", "--data", str(node), "--json"))["entries"]
    actions = [e["action"] for e in entries if e["action"].startswith("cot.")]
    assert actions == ["cot.enrol", "cot.withdraw"]
