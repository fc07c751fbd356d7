"""Who may connect to the node's Cursor-on-Target / TAK endpoint: officials (sensors are officials too, with
the feed's posting role) whose TLS client certificate the security officer has enrolled, one by one.

An enrolment pins one certificate (its SHA-256 fingerprint, as partners are pinned in peers.toml) to one
official of the register; the certificate itself is kept too, because the endpoint trusts each enrolled
certificate as its own anchor (crypto.enrolled_clients_context): a TAK client's certificate may come from
any CA, or none. The list lives in `DATA/cot-clients.json`, written atomically; enrolling and withdrawing
are the security officer's (R6.e) and audited. At each connection the certificate presented is looked up
(`admit`) and its official read from the register as it is now: suspended, revoked or out of clearance is
refused, and every refusal is audited as a failed authentication.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization

from gsomia.crypto import CryptoError, certificate_from_pem, fingerprint
from gsomia.domain.officials import Official, OfficialStatus, Role
from gsomia.domain.timeutil import format_instant, parse_instant
from gsomia.services import access
from gsomia.services.audit_log import append, draft
from gsomia.services.context import Actor, Node
from gsomia.services.errors import InvalidInput, NotFound
from gsomia.services.officials import ANONYMOUS

CLIENTS_FILE = "cot-clients.json"
VIA = "cot"
MAX_CERTIFICATE_BYTES = 16 * 1024
RULES = ("R6.e", "R7.2")


@dataclass(frozen=True, slots=True)
class Enrolment:
    fingerprint: str      # SHA-256 of the DER certificate, hex
    official_id: str
    subject: str          # the certificate's subject, for people reading the list
    enrolled_at: datetime
    certificate_pem: str

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "official_id": self.official_id, "subject": self.subject,
                "enrolled_at": format_instant(self.enrolled_at), "certificate_pem": self.certificate_pem}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Enrolment:
        return cls(str(data["fingerprint"]), str(data["official_id"]), str(data.get("subject", "")),
                   parse_instant(str(data["enrolled_at"])), str(data["certificate_pem"]))


def enrolments(node: Node) -> list[Enrolment]:
    """The enrolled certificates, as the file holds them now (none if there is no file)."""
    path = node.settings.data_dir / CLIENTS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [Enrolment.from_dict(entry) for entry in document.get("clients", [])]


def enrolled_bundle(node: Node) -> bytes:
    """Every enrolled certificate as one PEM bundle: the CoT endpoint's trust anchors."""
    return "".join(e.certificate_pem for e in enrolments(node)).encode("ascii")


def listing(node: Node, actor: Actor) -> list[Enrolment]:
    access.require(node, actor, "cot.clients", None, Role.SECURITY_OFFICER)
    return enrolments(node)


def enrol(node: Node, actor: Actor, official_id: str, certificate_pem: bytes, *, reason: str) -> Enrolment:
    """Pin `certificate_pem` to `official_id` (active, of this node): that official may then connect to the
    CoT endpoint with it. A certificate already enrolled is re-pinned to the official now named."""
    access.require(node, actor, "cot.enrol", official_id, Role.SECURITY_OFFICER)
    if not reason.strip():
        raise InvalidInput("reason: say why this certificate may connect (R6.e)")
    if len(certificate_pem) > MAX_CERTIFICATE_BYTES:
        raise InvalidInput(f"certificate: over {MAX_CERTIFICATE_BYTES} bytes")
    try:
        certificate = certificate_from_pem(certificate_pem)
    except CryptoError as bad:
        raise InvalidInput(f"certificate: {bad}") from None
    now = node.clock()
    with node.store.unit_of_work() as uow:
        record = uow.officials.get(official_id)
        if record is None:
            raise NotFound(f"official {official_id} is not in the register")
        if record.official.status is not OfficialStatus.ACTIVE:
            raise InvalidInput(f"official {official_id} is {record.official.status.value}: no certificate enrolled")
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        enrolment = Enrolment(fingerprint(certificate), official_id, certificate.subject.rfc4514_string(), now, pem)
        append(uow, now, [draft(actor, "cot.enrol", official_id, rules=RULES,
                                reasons=(reason, f"certificate {enrolment.fingerprint}"))])
    # Audited first: an enrolment is never in force without its entry in the trail.
    _write(node, [e for e in enrolments(node) if e.fingerprint != enrolment.fingerprint] + [enrolment])
    return enrolment


def withdraw(node: Node, actor: Actor, certificate_fingerprint: str, *, reason: str) -> Enrolment:
    """Unpin a certificate: a connection presenting it is refused from now on (checked at each connection)."""
    access.require(node, actor, "cot.withdraw", certificate_fingerprint, Role.SECURITY_OFFICER)
    wanted = certificate_fingerprint.lower().replace(":", "")
    held = enrolments(node)
    found = next((e for e in held if e.fingerprint == wanted), None)
    if found is None:
        raise NotFound(f"no certificate {wanted} is enrolled")
    with node.store.unit_of_work() as uow:
        append(uow, node.clock(), [draft(actor, "cot.withdraw", found.official_id, rules=RULES,
                                         reasons=(reason or "withdrawn", f"certificate {found.fingerprint}"))])
    _write(node, [e for e in held if e is not found])
    return found


def admit(node: Node, certificate_der: bytes | None) -> Official | None:
    """The official a CoT connection speaks for, from its TLS client certificate (DER); None refuses, audited.
    The official is read from the register now: only an active one, clearance valid, of this node."""
    now = node.clock()
    pinned = fingerprint(certificate_der) if certificate_der else None
    enrolment = next((e for e in enrolments(node) if e.fingerprint == pinned), None) if pinned else None
    reason = "no client certificate" if pinned is None else f"certificate {pinned} is not enrolled"
    official_id = None
    if enrolment is not None:
        official_id = enrolment.official_id
        with node.store.unit_of_work(readonly=True) as uow:
            record = uow.officials.get(enrolment.official_id)
        official = record.official if record is not None else None
        if official is None:
            reason = f"official {enrolment.official_id} is no longer registered"
        elif official.status is not OfficialStatus.ACTIVE:
            reason = f"official {official.id} is {official.status.value}"
        elif not official.clearance_valid_at(now) or official.party != node.party:
            reason = f"official {official.id}'s clearance is not valid here"
        else:
            return official
    with node.store.unit_of_work() as uow:
        append(uow, now, [draft(Actor(ANONYMOUS, VIA), "authenticate", official_id, rules=("R7.2",),
                                reasons=(reason,))])
    return None


def _write(node: Node, entries: list[Enrolment]) -> None:
    path = node.settings.data_dir / CLIENTS_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"clients": [e.to_dict() for e in entries]}, indent=2), encoding="utf-8")
    os.replace(temporary, path)
