"""A real KOR node in a directory (SQLite, a crypto keystore) and its officials with API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gsomia.config import Settings, write_settings
from gsomia.crypto import init_keystore
from gsomia.services import officials, runtime
from gsomia.services.context import Actor, Node
from gsomia.services.runtime import open_node

PASSPHRASE = b"api tests only"
TOPIC = "dprk-missile"


@dataclass(frozen=True)
class Team:
    """Officials of the node, each with a token: who may do what is the policy's business."""

    officer: str  # bootstrap security officer, cleared to the top level, no need-to-know
    officer_id: str
    releaser: str  # releasing official, KOR:II, need-to-know for TOPIC
    releaser_id: str
    reader: str  # reader, KOR:II, need-to-know for TOPIC
    reader_id: str
    outsider: str  # releasing official, KOR:II, need-to-know for nothing relevant
    outsider_id: str


def make_node(data: Path) -> tuple[Node, Team]:
    settings = Settings(party="KOR", name="MND Seoul (test)", node_id="KOR-test", data_dir=data)
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    with runtime.unchecked_node(settings) as fresh:
        runtime.create_database(fresh)
        record, issued = officials.bootstrap(fresh, name="Kim Security", clearance=None, expires=None)
    write_settings(settings.model_copy(update={"local_admin": record.official.id}))
    init_keystore(data, "KOR", "kor-node", passphrase=PASSPHRASE)
    node = open_node(data, passphrase=PASSPHRASE)
    boss = Actor(record.official, "test")
    granted = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def appoint(name: str, role: str, topics: list[str]) -> tuple[str, str]:
        official = officials.appoint(node, boss, name=name, clearance="KOR:II", granted=granted, expires=None,
                                     need_to_know=topics, roles=[role], reason="api tests").official
        return officials.issue_token(node, boss, official.id, reason="api tests").token, official.id

    releaser, reader, outsider = (appoint("Park Release", "releasing_official", [TOPIC]),
                                  appoint("Lee Reader", "reader", [TOPIC]),
                                  appoint("Choi Elsewhere", "releasing_official", ["logistics"]))
    return node, Team(issued.token, record.official.id, *releaser, *reader, *outsider)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
