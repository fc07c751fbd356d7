"""The peer messages and the signed records' bodies: one dataclass per kind, written and read through one
codec (services/wire.py) that checks every field where the bytes come in."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, get_args, get_origin, get_type_hints

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gsomia.services.messages import KINDS, Payload, decode, encode
from gsomia.services.record_bodies import ReceiptBody
from gsomia.services.wire import MAX_ENTRIES, MAX_TEXT, Malformed, from_map, to_map

TEXT = st.text(max_size=40)


def _strategy(hint: Any) -> st.SearchStrategy[Any]:
    if get_origin(hint) is tuple:
        return st.lists(_strategy(get_args(hint)[0]), max_size=4).map(tuple)
    options = [a for a in get_args(hint) if a is not type(None)]
    if options:  # X | None
        return st.none() | _strategy(options[0])
    return {str: TEXT, bytes: st.binary(max_size=40), bool: st.booleans(), int: st.integers(-(2**63), 2**63 - 1)}[hint]


def messages() -> st.SearchStrategy[Payload]:
    def build(cls: type[Payload]) -> st.SearchStrategy[Payload]:
        hints = get_type_hints(cls)
        return st.builds(cls, **{f.name: _strategy(hints[f.name]) for f in fields(cls)})
    return st.one_of(*[build(cls) for cls in KINDS.values()])


@settings(max_examples=300, deadline=None)
@given(messages())
def test_every_message_reads_back_as_written(message: Payload) -> None:
    assert decode(message.kind, encode(message)) == message


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_payload_missing_its_fields_is_malformed(kind: str) -> None:
    required = [f.name for f in fields(KINDS[kind]) if f.default is f.default_factory]  # both MISSING
    with pytest.raises(Malformed, match=f"has no ({'|'.join(required)})"):
        decode(kind, cbor2.dumps({}))


@pytest.mark.parametrize(("payload", "problem"), [
    (b"\xff", "not CBOR"),
    (cbor2.dumps([1]), "not a map"),
    (cbor2.dumps({"record": "text, not bytes"}), "not a byte string"),
    (cbor2.dumps({"record": b"", "more": 1}), "unknown fields: more"),
])
def test_a_payload_of_the_wrong_shape_is_malformed(payload: bytes, problem: str) -> None:
    with pytest.raises(Malformed, match=problem):
        decode("audit-checkpoint", payload)


def test_an_unknown_kind_is_malformed() -> None:
    with pytest.raises(Malformed, match="unknown message kind"):
        decode("pay-me", cbor2.dumps({}))


def test_texts_and_lists_are_bounded() -> None:
    item = {"item_ref": "KOR-1", "originator": "KOR", "envelope": b"", "final": "JPN", "via": None, "consents": [],
            "provenance": ["KOR"]}
    decode("item", cbor2.dumps(item))
    with pytest.raises(Malformed, match="at most"):
        decode("item", cbor2.dumps({**item, "item_ref": "x" * (MAX_TEXT + 1)}))
    with pytest.raises(Malformed, match="at most"):
        decode("item", cbor2.dumps({**item, "provenance": ["KOR"] * (MAX_ENTRIES + 1)}))
    with pytest.raises(Malformed, match="true or false"):
        decode("consent", cbor2.dumps({"consent_id": "c", "granted": 1, "record": None}))


def test_a_receipt_names_its_sender_by_the_wire_name_and_may_carry_more() -> None:
    receipt = ReceiptBody("msg-1", "item", "refused", "JPN", rules=("G1",), reasons=("not for JPN",))
    wire = to_map(receipt)
    assert wire["from"] == "JPN" and "sender" not in wire
    assert from_map(ReceiptBody, {**wire, "holder_item_id": "JPN-1"}, "receipt", more=True) == receipt
    with pytest.raises(Malformed, match="unknown fields"):
        from_map(ReceiptBody, {**wire, "holder_item_id": "JPN-1"}, "receipt")
