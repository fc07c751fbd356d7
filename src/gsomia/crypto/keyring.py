"""A node's key ring, like `MultiFernet`: the newest generation seals and signs, older ones still
open what was sealed to them until they are retired."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from gsomia.crypto.errors import CryptoError
from gsomia.crypto.keys import NodeKeys, PublicKeys


class KeyRing:
    def __init__(self, keys: Iterable[NodeKeys]) -> None:
        self._keys = list(keys)  # newest first
        if not self._keys:
            raise CryptoError("a key ring needs at least one key")
        self._by_kid = {k.kid: k for k in self._keys}

    @property
    def current(self) -> NodeKeys:
        return self._keys[0]

    @property
    def party(self) -> str:
        return self.current.party

    def __iter__(self) -> Iterator[NodeKeys]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def rotate(self, new: NodeKeys) -> None:
        """`new` seals and signs from now on; the previous keys keep opening."""
        if new.kid in self._by_kid:
            raise CryptoError("that key is already on the ring")
        self._keys.insert(0, new)
        self._by_kid[new.kid] = new

    def retire(self, kid: bytes) -> NodeKeys:
        """Stop opening with an old generation. The current key cannot be retired: rotate first."""
        if kid == self.current.kid:
            raise CryptoError("cannot retire the current key; rotate first")
        keys = self._by_kid.pop(kid, None)
        if keys is None:
            raise CryptoError(f"no key {kid.hex()} on the ring")
        self._keys.remove(keys)
        return keys

    def find(self, kid: bytes) -> NodeKeys | None:
        return self._by_kid.get(kid)

    def public_key(self, kid: bytes) -> PublicKeys | None:
        keys = self._by_kid.get(kid)
        return keys.public if keys else None
