"""Merkle trees as RFC 9162 (Certificate Transparency 2.0, §2.1) defines them, SHA-256.

One signature over a tree's root stands for every entry of the tree: a batch of records signed at
once, each record still verifiable alone with its inclusion path (RFC 9942, COSE Receipts, names
this tree RFC9162_SHA256). Leaves and inner nodes are domain-separated (0x00 / 0x01) so that a leaf
can never pose as an inner node.

Bottom-up pairing that promotes an odd last node unchanged builds exactly RFC 9162's tree (split at
the largest power of two below the size); a property test checks it against the recursive definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

MAX_PATH = 64  # a tree of 2**64 entries; anything longer is not a path


class InvalidInclusion(ValueError):
    """An inclusion path that does not lead from its entry to a root of the stated size."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_root(entries: Sequence[bytes]) -> bytes:
    """The root of the tree over `entries` (at least one). The feed's hot path (every batch at every
    hop), so the hashing is inlined here."""
    if not entries:
        raise ValueError("a Merkle tree holds at least one entry")
    sha256 = hashlib.sha256
    level = [sha256(b"\x00" + e).digest() for e in entries]
    while len(level) > 1:
        parents = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return level[0]


def inclusion_paths(entries: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root and, per entry, its inclusion path (RFC 9162 §2.1.3.1: siblings from the leaf up)."""
    if not entries:
        raise ValueError("a Merkle tree holds at least one entry")
    level = [leaf_hash(e) for e in entries]
    paths: list[list[bytes]] = [[] for _ in entries]
    position = list(range(len(entries)))  # each entry's node on the current level
    while len(level) > 1:
        for entry, at in enumerate(position):
            sibling = at ^ 1
            if sibling < len(level):  # an odd last node has no sibling here: promoted unchanged
                paths[entry].append(level[sibling])
            position[entry] = at // 2
        level = _parents(level)
    return level[0], paths


def root_from_inclusion(entry: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root that `path` leads to from `entry` at `index` in a tree of `size` entries
    (RFC 9162 §2.1.3.2); InvalidInclusion if the path cannot belong to such a tree."""
    if not 0 <= index < size or len(path) > MAX_PATH:
        raise InvalidInclusion("entry index outside the tree")
    fn, sn, node = index, size - 1, leaf_hash(entry)
    for sibling in path:
        if sn == 0:
            raise InvalidInclusion("inclusion path longer than the tree is deep")
        if len(sibling) != 32:
            raise InvalidInclusion("inclusion path holds something that is not a SHA-256 hash")
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidInclusion("inclusion path shorter than the tree is deep")
    return node


def _parents(level: list[bytes]) -> list[bytes]:
    parents = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        parents.append(level[-1])
    return parents
