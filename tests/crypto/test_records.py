"""Signed records and `gsomia verify`: valid (0), invalid (1), unreadable (2), never a traceback."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

import cbor2
import pytest
from typer.testing import CliRunner

from gsomia.cli.main import app
from gsomia.crypto import (
    CryptoError,
    InvalidEnvelope,
    InvalidRecord,
    KeyDirectory,
    NodeKeys,
    build_loopback_pki,
    destruction_certificate,
    export_public,
    init_keystore,
    load_keyring,
    open,
    seal,
    sign_record,
    verify_record,
)

AT = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def kor() -> NodeKeys:
    return NodeKeys.generate("KOR", "kor-1")


def _certificate(kor: NodeKeys) -> bytes:
    body = destruction_certificate(item_id="item-7", label=b'{"l":1}', method="shred", officer="KOR/kim",
                                   destroyed_at=AT)
    return sign_record("destruction-certificate", body, signer=kor, at=AT)


def test_sign_and_verify(kor: NodeKeys) -> None:
    verified = verify_record(_certificate(kor), trusted=kor.public, expected_type="destruction-certificate")
    assert verified.body["item_id"] == "item-7" and verified.body["label_digest"].startswith("sha256:")
    assert verified.signed_at == AT and verified.signer.kid == kor.kid


@pytest.mark.parametrize("kind", ["consent", "receipt", "compromise-report", "audit-checkpoint"])
def test_every_record_type(kor: NodeKeys, kind: str) -> None:
    record = sign_record(kind, {"n": 1, "nested": {"list": [1, "two", None, True]}}, signer=kor)
    assert verify_record(record, trusted=kor.public).body == {"n": 1, "nested": {"list": [1, "two", None, True]}}


def test_unknown_type_and_wrong_expected_type(kor: NodeKeys) -> None:
    with pytest.raises(CryptoError):
        sign_record("memo", {}, signer=kor)
    with pytest.raises(InvalidRecord, match="not a receipt"):
        verify_record(_certificate(kor), trusted=kor.public, expected_type="receipt")


def test_tampered_record_is_refused(kor: NodeKeys) -> None:
    record = _certificate(kor)
    for position in range(len(record)):
        tampered = bytearray(record)
        tampered[position] ^= 0x01
        with pytest.raises(InvalidRecord):
            verify_record(bytes(tampered), trusted=kor.public)


def test_untrusted_signer(kor: NodeKeys) -> None:
    with pytest.raises(InvalidRecord, match="unknown signer"):
        verify_record(_certificate(kor), trusted=KeyDirectory([NodeKeys.generate("USA", "u").public]))


def test_envelope_and_record_signatures_do_not_cross(kor: NodeKeys) -> None:
    """Different external AAD: a record's signature never verifies as an envelope's, or back."""
    jpn = NodeKeys.generate("JPN", "j")
    envelope = seal(b"x", label=b"L", sender=kor, recipients=[jpn.public])
    sign1 = cbor2.loads(envelope)[2]
    with pytest.raises(InvalidRecord):
        verify_record(cbor2.dumps(sign1), trusted=kor.public)
    record = cbor2.loads(_certificate(kor))
    with pytest.raises(InvalidEnvelope):
        open(cbor2.dumps([1, b"", record]), recipient=jpn, senders=kor.public)


# --- gsomia verify ------------------------------------------------------------------------------

@pytest.fixture()
def signed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("GSOMIA_KEY_PASSPHRASE", "verify pass")
    init_keystore(tmp_path / "node", "KOR", "kor-1", passphrase=b"verify pass")
    ring = load_keyring(tmp_path / "node", passphrase=b"verify pass")
    record = tmp_path / "destroyed.cose"
    record.write_bytes(_certificate(ring.current))
    public = tmp_path / "kor.json"
    public.write_text(json.dumps(export_public(tmp_path / "node")))
    return record, public


def test_cli_verify_valid(signed: tuple[Path, Path]) -> None:
    record, public = signed
    result = CliRunner().invoke(app, ["verify", str(record), "--key", str(public)])
    assert result.exit_code == 0, result.output
    assert "valid destruction-certificate" in result.output and "KOR/kor-1" in result.output
    assert '"item_id": "item-7"' in result.output


def test_cli_verify_with_certificate_trust_dir_and_base64(signed: tuple[Path, Path], tmp_path: Path) -> None:
    record, _ = signed
    keys = tmp_path / "node" / "keys"
    runner = CliRunner()
    cert = next(keys.glob("sign-*.crt.pem"))
    assert runner.invoke(app, ["verify", str(record), "--key", str(cert)]).exit_code == 0
    assert runner.invoke(app, ["verify", str(record), "--trust", str(keys)]).exit_code == 0
    text = tmp_path / "record.b64"
    text.write_bytes(base64.b64encode(record.read_bytes()))
    assert runner.invoke(app, ["verify", str(text), "--key", str(cert)]).exit_code == 0


def test_cli_verify_invalid(signed: tuple[Path, Path], tmp_path: Path) -> None:
    record, public = signed
    data = bytearray(record.read_bytes())
    data[-1] ^= 0x01
    record.write_bytes(bytes(data))
    result = CliRunner().invoke(app, ["verify", str(record), "--key", str(public)])
    assert result.exit_code == 1 and "INVALID" in result.output and "Traceback" not in result.output
    # Signed by someone else: also invalid, not unreadable.
    other = build_loopback_pki(("USA",))["USA"].keys
    record.write_bytes(sign_record("receipt", {"x": 1}, signer=other))
    assert CliRunner().invoke(app, ["verify", str(record), "--key", str(public)]).exit_code == 1


def test_cli_verify_unreadable(signed: tuple[Path, Path], tmp_path: Path) -> None:
    record, public = signed
    runner = CliRunner()
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\xffnot a record")
    for args in (["verify", str(tmp_path / "missing"), "--key", str(public)],
                 ["verify", str(garbage), "--key", str(public)],
                 ["verify", str(record), "--key", str(tmp_path / "no-key.json")],
                 ["verify", str(record), "--key", str(garbage)],
                 ["verify", str(record)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
