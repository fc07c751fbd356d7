"""The tracks a node's feed holds, read from its replay store rather than from the running feed: what
`gsomia feed streams` lists from a process of its own. The running node writes the store behind its buffer
every half second (`gsomia.feed.node`), so this is at most that much behind the live feed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gsomia.domain.tracks import TrackMessage
from gsomia.feed.replay import FrameStore
from gsomia.feed.wire import LabelParser, WireDecoder
from gsomia.services.records import Stored


class StoredTracks:
    """Each stream's newest message held (a `services.feed.HeldTracks`), and any stream's messages in order
    (`stream_messages`), decoded when asked for."""

    def __init__(self, newest: Sequence[TrackMessage] = (), frames: Mapping[str, Sequence[Stored]] | None = None,
                 decoder: WireDecoder | None = None) -> None:
        self._messages = list(newest)
        self._frames, self._decoder = frames or {}, decoder

    @classmethod
    def load(cls, store: FrameStore, parse_label: LabelParser, *, now: float, max_age_s: float) -> StoredTracks:
        """From the frames of the last `max_age_s` seconds in `store`."""
        streams, labels = store.load(now - max_age_s)
        decoder = WireDecoder(parse_label)
        for label_frame in labels.values():
            decoder.decode(label_frame)
        newest = (max(items, key=lambda stored: stored.seq) for items in streams.values() if items)
        return cls([msg for msg in (decoder.decode(stored.frame) for stored in newest) if msg is not None],
                   streams, decoder)

    def stream_messages(self, stream: str) -> list[TrackMessage]:
        if self._decoder is None:
            return []
        decoded = (self._decoder.decode(stored.frame) for stored in sorted(self._frames.get(stream, ()),
                                                                          key=lambda stored: stored.seq))
        return [msg for msg in decoded if msg is not None]

    def newest_messages(self) -> list[TrackMessage]:
        return list(self._messages)
