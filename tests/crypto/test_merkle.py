"""RFC 9162 Merkle trees (crypto/merkle.py): the iterative tree is the RFC's recursive one, every
inclusion path leads to the root, and a path proves no other entry.

As in RFC 9162, a path proves that the entry is in the tree with that root, not its place: the tree's
size is what a signed tree head would fix, and a path can fit more than one (index, size)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gsomia.crypto.merkle import InvalidInclusion, inclusion_paths, leaf_hash, root_from_inclusion, tree_root

entries = st.lists(st.binary(max_size=12), min_size=1, max_size=40, unique=True)


def _mth(d: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, as written: split at the largest power of two below n."""
    if len(d) == 1:
        return leaf_hash(d[0])
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1, as written."""
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return _path(m, d[:k]) + [_mth(d[k:])] if m < k else _path(m - k, d[k:]) + [_mth(d[:k])]


@given(entries)
def test_the_tree_is_rfc_9162s(d: list[bytes]) -> None:
    root, paths = inclusion_paths(d)
    assert root == tree_root(d) == _mth(d)
    assert paths == [_path(m, d) for m in range(len(d))]


@given(entries, st.data())
def test_every_path_leads_to_the_root_and_proves_no_other_entry(d: list[bytes], data: st.DataObject) -> None:
    root, paths = inclusion_paths(d)
    for index, (entry, path) in enumerate(zip(d, paths, strict=True)):
        assert root_from_inclusion(entry, index, len(d), path) == root
    index = data.draw(st.integers(0, len(d) - 1))
    other = data.draw(st.binary(max_size=12).filter(lambda e: e != d[index]))
    assert root_from_inclusion(other, index, len(d), paths[index]) != root
    if len(d) > 1:  # another entry's path, at that entry's place, does not lead there either
        moved = data.draw(st.integers(0, len(d) - 1).filter(lambda i: i != index))
        assert root_from_inclusion(d[index], moved, len(d), paths[moved]) != root


def test_malformed_paths_are_refused() -> None:
    d = [b"a", b"b", b"c"]
    _, paths = inclusion_paths(d)
    with pytest.raises(InvalidInclusion):
        root_from_inclusion(b"a", 3, 3, paths[0])  # outside the tree
    with pytest.raises(InvalidInclusion):
        root_from_inclusion(b"a", 0, 3, paths[0] + [b"\0" * 32])  # longer than the tree is deep
    with pytest.raises(InvalidInclusion):
        root_from_inclusion(b"a", 0, 3, paths[0][:1])  # shorter
    with pytest.raises(InvalidInclusion):
        root_from_inclusion(b"a", 0, 3, [paths[0][0], b"short"])  # not a SHA-256
    with pytest.raises(ValueError):
        tree_root([])
