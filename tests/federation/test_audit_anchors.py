"""The audit trail anchored at the partners (issue 13): a running node sends its partners signed anchors on
its own; whoever then holds its whole database — entries, head and checkpoints — can neither cut the
newest entries nor rewrite one unseen, because `audit verify` checks against the partner's copies."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from tests.conftest import drop_audit_guards
from tests.federation.harness import PASSPHRASE, RunningNode, originate, start, stop_all, wait_for

from gsomia.config import load_settings, write_settings
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.federation.anchors import fetch_anchors
from gsomia.node import NodeTLS
from gsomia.services import audit, audit_anchors, officials, record_bodies
from gsomia.services.audit_chain import entry_bytes
from gsomia.services.context import Actor, Node
from gsomia.services.record_bodies import CheckpointBody
from gsomia.services.runtime import open_node
from gsomia.storage.tables import audit_checkpoints, audit_entries, audit_head


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, LoopbackNode], dict[str, RunningNode]]]:
    base: Path = tmp_path_factory.mktemp("anchors")
    specs = create_federation(base, passphrase=PASSPHRASE, parties=("KOR", "JPN"))
    for spec in specs.values():
        write_settings(load_settings(spec.data).model_copy(update={"audit_anchor_s": 0.5}))
    running = {party: start(spec) for party, spec in specs.items()}
    yield specs, running
    stop_all({p: n for p, n in running.items() if n.thread.is_alive()})


def _held_by_jpn(jpn: RunningNode) -> int:
    with jpn.node.store.unit_of_work(readonly=True) as uow:
        return max((count for peer, count, *_ in uow.exchange.peer_checkpoints("KOR")), default=0)


def _verify(kor: Node, anchored: list[audit_anchors.Anchored]) -> audit.VerifyReport:
    officer = Actor(officials.local_admin(kor, str(kor.settings.local_admin)), "test")
    return audit.verify_store(kor, officer, check_signature=None, anchored=anchored)


def _fetched(kor: Node) -> list[audit_anchors.Anchored]:
    answers = asyncio.run(fetch_anchors(kor, NodeTLS.of(kor, PASSPHRASE).client))
    assert isinstance(answers["JPN"], list), answers
    return [audit_anchors.anchored_hashes(kor, answers["JPN"], "JPN")]


def _rechain(kor: Node, from_seq: int) -> None:
    """What a careful forger does after changing entry `from_seq`: every later hash and link recomputed."""
    with kor.store.engine.begin() as conn:
        rows = conn.execute(select(audit_entries).where(audit_entries.c.seq >= from_seq - 1)
                            .order_by(audit_entries.c.seq)).mappings().all()
        prev = rows[0]["entry_hash"] if rows[0]["seq"] < from_seq else None
        for row in rows:
            if row["seq"] < from_seq:
                continue
            assert prev is not None
            hashed = hashlib.sha256(entry_bytes(row["seq"], row["at"], row["actor"], row["via"], row["action"],
                                                row["subject"], row["decision"], row["rules"], row["reasons"],
                                                prev)).hexdigest()
            conn.execute(update(audit_entries).where(audit_entries.c.seq == row["seq"])
                         .values(prev_hash=prev, entry_hash=hashed))
            prev = hashed
        conn.execute(update(audit_head).values(entry_hash=prev))


def test_anchors_reach_the_partner_and_expose_a_cut_and_a_rewrite(pair: tuple[dict, dict]) -> None:
    specs, nodes = pair
    kor, jpn = nodes["KOR"], nodes["JPN"]
    for n in range(5):
        originate(kor, f"assessment {n}")
    count = audit.entry_count(kor.node)
    wait_for(lambda: _held_by_jpn(jpn) >= count, "JPN to hold KOR's anchors", timeout=30)
    kor.signal_stop()
    kor.join()
    with open_node(specs["KOR"].data, passphrase=PASSPHRASE) as node:
        assert _verify(node, _fetched(node)).ok  # the untouched trail agrees with JPN's copies

        # Someone with the database: the newest three entries cut, the head moved back, the checkpoints gone.
        drop_audit_guards(node.store.engine)
        with node.store.engine.begin() as conn:
            kept = count - 3
            last_hash = conn.execute(select(audit_entries.c.entry_hash).where(audit_entries.c.seq == kept)).scalar()
            conn.execute(delete(audit_entries).where(audit_entries.c.seq > kept))
            conn.execute(update(audit_head).values(seq=kept, entry_hash=last_hash))
            conn.execute(delete(audit_checkpoints))
        assert _verify(node, []).ok  # on its own, the cut trail looks whole
        cut = _verify(node, _fetched(node))
        assert cut.problem is not None and cut.problem.seq == kept + 1 and "JPN holds" in cut.problem.what

        # And an entry changed, every later hash recomputed: named by its seq.
        with node.store.engine.begin() as conn:
            conn.execute(update(audit_entries).where(audit_entries.c.seq == 7).values(reasons='["nothing happened"]'))
        _rechain(node, 7)
        assert _verify(node, []).ok
        rewritten = _verify(node, _fetched(node))
        assert rewritten.problem is not None and rewritten.problem.seq == 7, rewritten.problem


def test_anchors_not_signed_by_the_node_count_for_nothing(pair: tuple[dict, dict]) -> None:
    """A partner cannot make a node's trail look bad (or good) with anchors of its own making."""
    specs, nodes = pair
    jpn = nodes["JPN"].node
    made_up = record_bodies.sign(CheckpointBody(3, "00" * 32, "2026-12-07T00:00:00.000000Z", "KOR", 1, b"\x00" * 96),
                                 signer=jpn.keys, at=jpn.clock())
    with open_node(specs["KOR"].data, passphrase=PASSPHRASE) as kor:
        held = audit_anchors.anchors_held_for(jpn, "KOR")[:1]  # one genuine anchor, signed by KOR
        read = audit_anchors.anchored_hashes(kor, [b"\xa0", made_up, *held], "JPN")
        assert (read.records, read.rejected) == (3, 2)
        assert read.hashes and "00" * 32 not in read.hashes.values()  # only the genuine anchor's hashes
