"""The console's sessions (a unit of work's `console_sessions`): one row per signed-in browser.

The row is keyed by the SHA-256 of the session's secret; the secret itself is only ever in the browser's
cookie, so a copy of the database opens no session. Rows are read and changed in the caller's transaction.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from gsomia.storage import tables as t
from gsomia.storage.records import ConsoleSessionRecord

_SESSIONS = t.console_sessions
MAX_FLASH = 5  # messages waiting for the next page: a few at most, never a growing pile


class ConsoleSessionsRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, session: ConsoleSessionRecord) -> None:
        self._conn.execute(_SESSIONS.insert().values(
            id_hash=session.id_hash, official_id=session.official_id, token_hash=session.token_hash,
            created_at=session.created_at, last_seen=session.last_seen, flash=None))

    def get(self, id_hash: str) -> ConsoleSessionRecord | None:
        row = self._conn.execute(select(_SESSIONS).where(_SESSIONS.c.id_hash == id_hash)).first()
        if row is None:
            return None
        flash = tuple(str(m) for m in json.loads(row.flash)) if row.flash else ()
        return ConsoleSessionRecord(row.id_hash, row.official_id, row.token_hash, row.created_at, row.last_seen,
                                    flash)

    def touch(self, id_hash: str, at: datetime, *, clear_flash: bool) -> None:
        values: dict[str, object] = {"last_seen": at}
        if clear_flash:
            values["flash"] = None
        self._conn.execute(update(_SESSIONS).where(_SESSIONS.c.id_hash == id_hash).values(**values))

    def add_flash(self, id_hash: str, messages: tuple[str, ...]) -> None:
        self._conn.execute(update(_SESSIONS).where(_SESSIONS.c.id_hash == id_hash).values(
            flash=json.dumps(list(messages[-MAX_FLASH:]), ensure_ascii=False)))

    def remove(self, id_hash: str) -> bool:
        return bool(self._conn.execute(delete(_SESSIONS).where(_SESSIONS.c.id_hash == id_hash)).rowcount)

    def remove_idle(self, seen_before: datetime) -> int:
        """Sessions idle since before `seen_before`: gone (their browsers are sent to sign in again)."""
        return int(self._conn.execute(delete(_SESSIONS).where(_SESSIONS.c.last_seen < seen_before)).rowcount)

    def remove_started_before(self, started_before: datetime) -> int:
        return int(self._conn.execute(delete(_SESSIONS).where(_SESSIONS.c.created_at < started_before)).rowcount)
