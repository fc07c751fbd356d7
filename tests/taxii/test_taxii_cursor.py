"""Positions and the `next` cursor (services/taxii_cursor.py): each date_added orders and parses back
exactly, a cursor round-trips under its key, is refused altered or under another key, and the key derived
from the node's keys is the same after the keys are loaded again (a restart)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from gsomia.crypto import derived_secret, init_keystore, load_keyring
from gsomia.services.errors import InvalidInput
from gsomia.services.taxii_cursor import Cursor, Filters, Position, open_cursor, parse_timestamp, seal_cursor

AT = datetime(2026, 12, 7, 3, 0, 0, 123456, tzinfo=timezone.utc)
KEY = b"k" * 32


def test_positions_render_with_nine_digits_and_parse_back() -> None:
    positions = [Position(AT, n) for n in (0, 1, 2, 599, 999)]
    rendered = [p.render() for p in positions]
    assert rendered[1] == "2026-12-07T03:00:00.123456001Z"
    assert rendered == sorted(rendered) and [parse_timestamp(r) for r in rendered] == positions
    assert parse_timestamp("2026-12-07T03:00:00.123Z") == Position(AT.replace(microsecond=123000), 0)
    assert parse_timestamp("2026-12-07T12:00:00+09:00") == Position(AT.replace(microsecond=0), 0)
    for bad in ("yesterday", "2026-12-07", "2026-12-07T03:00:00.1234567891Z", "2026-13-07T03:00:00Z"):
        with pytest.raises(InvalidInput):
            parse_timestamp(bad)


def test_a_cursor_carries_its_query_and_refuses_alteration() -> None:
    cursor = Cursor("c1", "OFF-1", Filters(ids=("report--x",), types=("report",), versions=("all",)),
                    Position(AT, 5), "manifest")
    token = seal_cursor(cursor, KEY)
    assert open_cursor(token, KEY) == cursor
    body, tag = token.split(".")
    for forged in (f"{body}x.{tag}", f"{body}.{tag[:-2]}AA", body, "", "a" * 9000):
        with pytest.raises(InvalidInput):
            open_cursor(forged, KEY)
    with pytest.raises(InvalidInput):
        open_cursor(token, b"another node's key".ljust(32))


def test_the_cursor_key_survives_a_restart(tmp_path: Path) -> None:
    init_keystore(tmp_path, "KOR", "KOR-test", passphrase=b"cursor test passphrase")
    first = derived_secret(load_keyring(tmp_path, passphrase=b"cursor test passphrase"), b"gsomia taxii cursor v1")
    again = derived_secret(load_keyring(tmp_path, passphrase=b"cursor test passphrase"), b"gsomia taxii cursor v1")
    other = derived_secret(load_keyring(tmp_path, passphrase=b"cursor test passphrase"), b"another use")
    assert first == again and len(first) == 32 and first != other
