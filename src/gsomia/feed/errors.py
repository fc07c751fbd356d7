"""Errors raised by the track feed.

    FeedError                 anything the feed refuses
    ├── WireError             a frame that is not a well-formed feed frame
    │   └── UnknownLabel      a message names a label digest this receiver has not been given
    ├── CotError              Cursor-on-Target input that is malformed or hostile (DTD, entities)
    └── InvalidBatch          a signed batch whose signature or Merkle proof does not verify

A filtered-out message is never an exception: the filter returns False and says why in its decision.
"""

from __future__ import annotations


class FeedError(ValueError):
    """Input the feed refuses; the message names the problem."""


class WireError(FeedError):
    pass


class UnknownLabel(WireError):
    def __init__(self, digest: bytes) -> None:
        super().__init__(f"no label announced for digest {digest.hex()}")
        self.digest = digest


class CotError(FeedError):
    pass


class InvalidBatch(FeedError):
    pass
