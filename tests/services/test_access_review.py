"""R6.e: the register keeper reviews what an official may read here, item by item, with the policy's rules and
reasons for each refusal; the review is audited, refused to anyone but a security officer, and opens nothing."""

from __future__ import annotations

import pytest
from tests.services.handling_fixtures import Cast, label

from gsomia.services import access_review, audit, handling, officials
from gsomia.services.errors import InvalidInput, NotFound, PermissionDenied
from gsomia.services.runtime import Node

REPORT = b"launch near 39.0N 125.7E"


def test_R6_e_the_review_gives_each_item_the_decision_a_read_would_get(node: Node, cast: Cast) -> None:
    secret = handling.originate(node, cast.reader, label(node, "KOR:II"), REPORT)
    restricted = handling.originate(node, cast.reader, label(node, "KOR:III"), REPORT)
    gone = handling.originate(node, cast.reader, label(node, "KOR:III"), REPORT)
    handling.destroy(node, cast.keeper, gone.id, method="shredded", reason="superseded")

    done = access_review.review(node, cast.officer, cast.low.official.id)
    by_item = {i.item_id: i for i in done.items}
    assert set(by_item) == {secret.id, restricted.id} and done.complete  # a destroyed item is held no more
    assert by_item[restricted.id].allowed and not by_item[secret.id].allowed
    assert by_item[secret.id].rules and by_item[secret.id].reasons  # why not, in the policy's words
    assert done.readable == 1
    # The same decision as a read by that official now: refused, and allowed.
    with pytest.raises(PermissionDenied):
        handling.read(node, cast.low, secret.id)
    handling.read(node, cast.low, restricted.id)

    outsider = access_review.review(node, cast.officer, cast.outsider.official.id)
    assert outsider.readable == 0 and all(i.reasons for i in outsider.items)  # need-to-know (R7.2)


def test_R6_e_a_suspended_official_may_read_nothing(node: Node, cast: Cast) -> None:
    handling.originate(node, cast.reader, label(node, "KOR:III"), REPORT)
    officials.suspend(node, cast.officer, cast.low.official.id, reason="under investigation")
    done = access_review.review(node, cast.officer, cast.low.official.id)
    assert done.items and done.readable == 0


def test_R6_e_only_a_security_officer_reviews_and_every_review_is_audited(node: Node, cast: Cast) -> None:
    handling.originate(node, cast.reader, label(node, "KOR:II"), REPORT)
    with pytest.raises(PermissionDenied):
        access_review.review(node, cast.reader, cast.low.official.id)
    access_review.review(node, cast.officer, cast.low.official.id)
    reviews = [e for e in audit.tail(node, cast.officer, 10) if e.action == "official.access-review"]
    assert [e.actor for e in reviews] == [cast.reader.official.id, cast.officer.official.id]
    assert "security_officer" in reviews[0].reasons[0]  # the refusal, with its reason
    assert "0 of 1 items held readable" in reviews[1].reasons[0]
    with pytest.raises(NotFound):
        access_review.review(node, cast.officer, "OFF-nobody")
    with pytest.raises(InvalidInput):
        access_review.review(node, cast.officer, cast.low.official.id, limit=0)


def test_R6_e_a_review_past_its_limit_says_it_is_not_complete(node: Node, cast: Cast) -> None:
    for _ in range(3):
        handling.originate(node, cast.reader, label(node, "KOR:III"), REPORT)
    done = access_review.review(node, cast.officer, cast.low.official.id, limit=2)
    assert len(done.items) == 2 and not done.complete
