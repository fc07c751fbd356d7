"""`gsomia init --tls-name`: the node's TLS certificate names the hosts partners reach it by (a compose service,
a DNS name, an address), besides localhost and 127.0.0.1."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

from cryptography import x509


def test_init_puts_the_given_names_in_the_tls_certificate(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "gsomia.cli", "init", "--party", "KOR", "--name", "MND Seoul",
                           "--data", str(tmp_path / "kor"), "--tls-name", "kor.mnd.example", "--tls-name", "10.0.0.5"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GSOMIA_KEY_PASSPHRASE": "a passphrase for this test"})
    assert done.returncode == 0, done.stderr
    certificate = x509.load_pem_x509_certificate((tmp_path / "kor" / "keys" / "tls.crt.pem").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "kor.mnd.example"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"),
                                                         ipaddress.ip_address("10.0.0.5")]
