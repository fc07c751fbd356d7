"""The node's settings: one typed object, read once from `DIR/gsomia.toml` and the environment.

Environment variables `GSOMIA_<FIELD>` (e.g. GSOMIA_DATABASE_URL) win over the file.
"""

from __future__ import annotations

import json
import os
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

CONFIG_FILE = "gsomia.toml"
DATABASE_FILE = "gsomia.db"


class ConfigError(ValueError):
    """The configuration file or environment is missing or wrong; the message says what to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GSOMIA_", extra="forbid", frozen=True)

    party: str
    name: str
    node_id: str
    data_dir: Path
    database_url: str | None = None  # default: SQLite file in the data directory
    database_schema: str | None = None  # PostgreSQL only: search_path
    keys_dir: Path = Path("keys")  # relative to the data directory unless absolute
    sqlite_synchronous: Literal["GROUP", "FULL", "NORMAL"] = "GROUP"  # see storage/engine.py
    # The official the local CLI acts as when no GSOMIA_TOKEN is given (the bootstrap officer).
    local_admin: str | None = None
    # DEMO AND TESTING ONLY: the node's clock starts at this instant when the process starts and runs
    # forward in real time from there (e.g. 2016-11-23T10:00:00+09:00 to replay the GSOMIA signing day).
    # Every decision and audit entry is then stamped with that fictitious time; never set it on a real node.
    clock_start: datetime | None = None
    # With clock_start: the real instant at which the clock read clock_start (default: process start).
    # Nodes given the same pair keep the same fictitious time, as real nodes share real time.
    clock_anchor: datetime | None = None
    # Where `gsomia serve` listens: officials' API (TLS), partner nodes' endpoint (mutual TLS) and the
    # missile-warning feed (WebSocket over TLS: partners' pushes with client certificates, subscribers' pulls).
    host: str = "127.0.0.1"
    api_port: int = 9300
    peer_port: int = 9301
    feed_port: int = 9302
    # A message to a partner that has failed to go for this long is flagged for the security officer (in the
    # outbox listing and the audit trail); it is still retried, backing off up to 30 s between attempts.
    delivery_flag_after_s: float = 600.0
    # The officials' API documents (/openapi.json, /docs) answer only with a token unless this opens them.
    api_docs_open: bool = False
    # Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (none: the TCP
    # peer is the caller, whatever headers it sends; that is what the failed-login throttle counts).
    trusted_proxies: list[str] = []
    # The audit trail is anchored at the partners (services/audit_anchors.py) this often, or sooner after so
    # many new entries: what whoever holds the database could cut or rewrite unseen is at most about that.
    audit_anchor_s: float = 5.0
    audit_anchor_entries: int = 500
    # TLS on every port: 1.3 only, unless "1.2" is set explicitly (then 1.2 with ECDHE and AEAD suites only).
    tls_min_version: Literal["1.3", "1.2"] = "1.3"
    # The web console (/console/ on the API port): a signed-in session ends after this long without a request,
    # and in any case this long after sign-in.
    console_idle_timeout_s: float = 900.0
    console_session_max_s: float = 12 * 3600.0
    # TAXII 2.1 status resources (what each POST of objects did) are kept in the store this many days, and at most
    # this many (the newest); older ones are purged as new ones are written (storage/taxii.py). TAXII 2.1 §4.3 asks
    # for at least 24 hours after completion: a flood of POSTs beyond taxii_status_max can cut that shorter.
    taxii_status_days: float = 7.0
    taxii_status_max: int = 100_000
    # Operations (README "Operations: metrics, logs, health"). `gsomia serve` logs at this level, one JSON object
    # a line (or text) on stderr. With metrics_port set, the node's metrics are also served in plain HTTP without
    # a token at metrics_host:metrics_port/metrics, for a scraper on a management network: bind it there only.
    # /v1/ready probes each partner's peer port (TCP connect within ready_probe_timeout_s), at most every
    # ready_probe_every_s; ready_needs_partners: unreachable partners make the node not ready (503).
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    ready_probe_timeout_s: float = 1.0
    ready_probe_every_s: float = 10.0
    ready_needs_partners: bool = True

    # The Cursor-on-Target / TAK endpoint (feed/cot_listener.py): off unless cot_port is set. TLS 1.3, streaming TCP,
    # CoT XML and TAK protobuf; only client certificates enrolled for officials or sensors (`gsomia cot enrol`).
    # Plain TAK input (an event without our label) is originated under this label; none set: it is refused.
    cot_port: int | None = None
    cot_plain_classification: str | None = None
    cot_plain_releasable_to: list[str] = []
    cot_plain_topics: list[str] = []
    cot_plain_purpose: str = ""

    # --- scale-out and hardware keys (docs/runbook.md) ---
    # Each worker's outbox sender claims what it sends for this long (must outlast a POST, 10 s): no other
    # worker sends it meanwhile, and what a worker that died had claimed leaves from another after at most this.
    outbox_lease_s: float = 30.0
    # Where the failed-authentication budgets live (a `limits` storage URI): "memory://" counts in each process;
    # "redis://host:port" shares them between the workers of the node (services/throttle.py).
    throttle_storage: str = "memory://"
    # Keys in hardware: a PKCS#11 module (the HSM vendor's library) and token. `gsomia keys rotate` then makes a
    # generation whose signing key is the token's key pkcs11_key_label (generated there if absent), and the node
    # signs its envelopes, records and checkpoints with it. The PIN is never in this file: GSOMIA_PKCS11_PIN, or
    # the file pkcs11_pin_file names (mode 0600).
    pkcs11_module: str | None = None
    pkcs11_token_label: str | None = None
    pkcs11_key_label: str | None = None
    pkcs11_pin_file: Path | None = None
    # The feed's sequence and fan-out through NATS JetStream ("nats://host:4222"), so that several feed processes
    # of this node share each stream (README "Scale-out"); none: in process. Subjects and the JetStream stream are
    # named from feed_broker_prefix (default: the node id, what a subject may not hold replaced by "_").
    feed_broker: str | None = None
    feed_broker_prefix: str | None = None
    feed_broker_timeout_s: float = 5.0

    @field_validator("taxii_status_days", "taxii_status_max")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0: TAXII clients poll a status after their POST")
        return value

    @field_validator("clock_start", "clock_anchor")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("clock_start needs a time zone (Z or an offset such as +09:00)")
        return value

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment is listed first, so it wins.
        return env_settings, init_settings

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / DATABASE_FILE}"

    @property
    def effective_keys_dir(self) -> Path:
        return self.keys_dir if self.keys_dir.is_absolute() else self.data_dir / self.keys_dir


def load_settings(data_dir: Path) -> Settings:
    path = data_dir / CONFIG_FILE
    try:
        values: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: create the node with `gsomia init --data {data_dir}`") from None
    except tomllib.TOMLDecodeError as bad:
        raise ConfigError(f"{path} is not valid TOML: {bad}") from None
    values["data_dir"] = data_dir
    try:
        return Settings(**values)
    except ValidationError as bad:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in bad.errors())
        raise ConfigError(f"{path}: {problems}") from None


def write_settings(settings: Settings) -> Path:
    """Write the file atomically (temp file + rename), so a crash never leaves half a config."""
    lines = ["# gsomia node configuration. GSOMIA_<KEY> environment variables override these values.",
             "# Without database_url the node uses SQLite in this directory."]
    for key, value in settings.model_dump(exclude={"data_dir"}, exclude_none=True).items():
        # JSON string escapes are valid TOML basic-string escapes.
        if isinstance(value, list):  # a JSON array of strings is a TOML array
            lines.append(f"{key} = {json.dumps([str(v) for v in value], ensure_ascii=False)}")
            continue
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        lines.append(f"{key} = {json.dumps(text, ensure_ascii=False)}")
    path = settings.data_dir / CONFIG_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path
