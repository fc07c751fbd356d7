"""The catalogue a node decides under, live: the shipped baseline with the node's applied agreement events.

A `Catalog` never changes once built (its memos are pure functions of it). When the events a node applies
change (an event recorded, confirmed, or rejected by a partner), a new catalogue is built from the baseline
and all of them (`domain.agreement_events.build_catalog`) and installed here in one reference swap: every
use case reads `node.catalog` once per decision, so each decision sees one whole catalogue, the old or the
new. The old one is then told to forget its memos, and the listeners (the running feed, whose gates cache
their decisions per stream) are told of the new one.

Each install carries the store's generation of agreement events (`storage/agreements.py`): a use case
installs what it built in its transaction once that is committed (never from writes rolled back); a
node's poll (another process, a CLI, may have written) rebuilds only when the store's generation differs,
and installs only if nothing was installed meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from gsomia.domain.catalog import Catalog

log = logging.getLogger(__name__)
Listener = Callable[[Catalog], None]


class LiveCatalog:
    def __init__(self, baseline: Catalog) -> None:
        self.baseline = baseline
        self._current = baseline
        self._generation = 0  # the store's generation of agreement events this catalogue was built from
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    @property
    def current(self) -> Catalog:
        return self._current

    @property
    def generation(self) -> int:
        return self._generation

    def install(self, catalog: Catalog, generation: int, *, if_still: int | None = None) -> bool:
        """Decide under `catalog` from now on (built from the store's `generation` of events). With `if_still`,
        only if the generation installed is still that one (a poll that read the store before a use case
        installed something newer must not undo it)."""
        with self._lock:
            if if_still is not None and self._generation != if_still:
                return False
            old, self._current, self._generation = self._current, catalog, generation
            listeners = list(self._listeners)
        if old is not catalog:
            old.forget()
        for listener in listeners:
            try:
                listener(catalog)
            except Exception:  # the catalogue is installed; a listener's trouble is its own
                log.exception("a listener to agreement changes failed")
        return True

    def on_change(self, listener: Listener) -> Callable[[], None]:
        """`listener(new catalogue)` after each install (from the installing thread); returns what stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop
