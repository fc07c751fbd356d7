"""The fuzz targets (fuzzing/targets.py) in the test suite: their seeds are what gsomia's own encoders write
and each parser takes them whole (so a mutation starts from input that goes deep), and a short burst of
mutations per target raises nothing but the target's documented error. The long coverage-guided runs are
`scripts/fuzz` (README); a crash found there becomes a case here."""

from __future__ import annotations

import pytest
from fuzzing.targets import TARGETS, _keys, _label, _parse_label, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gsomia.crypto import KeyDirectory
from gsomia.feed.batch_signing import decode_batch
from gsomia.feed.wire import WireDecoder
from gsomia.services import messages, record_bodies
from gsomia.services.peer_messages import PeerMessage, open_message


def test_every_target_has_seeds_its_parser_takes() -> None:
    assert all(seeds(name) != [b""] for name in TARGETS), [n for n in TARGETS if seeds(n) == [b""]]
    kor, _ = _keys()
    kinds = sorted(messages.KINDS)
    for seed in seeds("peer-payload"):
        assert messages.decode(kinds[seed[0]], seed[1:]).kind == kinds[seed[0]]
    opened = [open_message(seed, trusted=KeyDirectory([kor.public])) for seed in seeds("peer-message")]
    assert all(isinstance(m, PeerMessage) for m in opened)
    assert len({m.envelope.kind for m in opened if isinstance(m, PeerMessage)}) == len(opened)
    body, _ = record_bodies.read(seeds("record-body")[0][1:], record_bodies.ConsentBody,
                                 trusted=KeyDirectory([kor.public]))
    assert body.by == "KOR"
    decoder = WireDecoder(_parse_label)
    decoder.add_label(_label(), bytes(16))
    frames = [seed[1:] for seed in seeds("feed-frame") if seed[:1] == b"m"]
    assert [m.seq for m in map(decoder.decode, frames) if m is not None] == [1, 2]
    assert len(decode_batch(seeds("feed-batch")[0]).frames) == 3


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutated_seeds_raise_nothing_but_the_documented_error(name: str) -> None:
    originals = seeds(name)

    @given(index=st.integers(0, len(originals) - 1), edits=st.lists(
        st.tuples(st.integers(0, 4095), st.integers(0, 255), st.sampled_from(["flip", "insert", "cut"])),
        min_size=1, max_size=4))
    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def mutated(index: int, edits: list[tuple[int, int, str]]) -> None:
        data = bytearray(originals[index])
        for where, value, how in edits:
            at = where % (len(data) + 1)
            if how == "insert":
                data[at:at] = bytes([value])
            elif data and how == "cut":
                del data[at % len(data)]
            elif data:
                data[at % len(data)] ^= value or 1
        TARGETS[name](bytes(data))  # the target swallows its documented error; anything else fails here

    mutated()
