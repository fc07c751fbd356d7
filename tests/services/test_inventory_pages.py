"""The inventory is read a page at a time (never the whole registry into memory for one listing), and gives
the same answer as filtering the whole registry: oldest first, filters and the reader's decisions (R7.2)
applied before the limit."""

from __future__ import annotations

import pytest
from tests.services.handling_fixtures import Cast, label

from gsomia.services import handling, visibility
from gsomia.services.runtime import Node

REPORT = b"launch near 39.0N 125.7E"


def test_R7_2_listings_read_in_pages_give_what_the_whole_registry_gives(node: Node, cast: Cast,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    made = [handling.originate(node, cast.reader, label(node, level), REPORT)
            for level in ("KOR:II", "KOR:III", "KOR:II", "KOR:III", "KOR:III", "KOR:II", "KOR:III")]
    low_may_read = [i.id for i in made if i.classification == "KOR:III"]
    monkeypatch.setattr(visibility, "SCAN_BATCH", 2)
    reads: list[int] = []
    page = type(node.store).unit_of_work

    def counted(store: object, **kwargs: object) -> object:
        reads.append(1)
        return page(store, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(node.store), "unit_of_work", counted)
    assert [i.id for i in visibility.visible_items(node, cast.low, limit=100)] == low_may_read
    assert len(reads) == 4  # 7 items, two at a time
    reads.clear()
    assert [i.id for i in visibility.visible_items(node, cast.low, limit=2)] == low_may_read[:2]
    assert len(reads) == 2  # stops once it has its two
    assert [i.id for i in visibility.visible_items(node, cast.officer, limit=5)] == [i.id for i in made[:5]]
    assert [i.id for i in visibility.visible_items(node, cast.officer, state="held", originator="KOR",
                                                   topic="dprk-nuclear")] == []
    assert [i.id for i in visibility.visible_items(node, cast.officer, originator="JPN")] == []
