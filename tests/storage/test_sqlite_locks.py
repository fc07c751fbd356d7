"""Two processes on one SQLite database (a CLI beside `gsomia serve`) keep each other's commits.

A process drops every POSIX lock it holds on a file when it closes any descriptor of that file. Our
engine makes the database file private before each connection; had it opened and closed the existing
file there, a node's second connection would drop the locks of its first, and another process closing
its own connection would then believe itself the last one, checkpoint and delete the WAL, and the node's
next commits would go to a deleted file. That is how a release queued by the CLI vanished from the
outbox of the node serving beside it (the README walkthrough, failing once in a while).
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from gsomia.storage.engine import open_engine

OTHER_PROCESS = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
connection.execute("INSERT INTO notes VALUES ('from the other process')")
connection.commit()
connection.close()
"""


def test_a_second_connection_keeps_the_first_ones_locks_and_no_commit_is_lost(tmp_path: Path) -> None:
    database = tmp_path / "node.db"
    engine = open_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as first:
            first.execute(text("CREATE TABLE notes (line TEXT)"))
            first.commit()
            with engine.connect() as second:  # made while the first is open, as a node's pool does under load
                second.execute(text("SELECT count(*) FROM notes")).scalar_one()
                second.rollback()  # open, holding no transaction
                subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(database)], check=True, timeout=60)
                assert Path(f"{database}-wal").exists(), "the other process deleted the WAL this one has open"
                first.execute(text("INSERT INTO notes VALUES ('from this process')"))
                first.commit()
        with engine.connect() as third:
            lines = sorted(third.execute(text("SELECT line FROM notes")).scalars())
    finally:
        engine.dispose()
    assert lines == ["from the other process", "from this process"]
    reread = subprocess.run([sys.executable, "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
                             ".execute('SELECT count(*) FROM notes').fetchone()[0])", str(database)],
                            check=True, capture_output=True, text=True, timeout=60)
    assert reread.stdout.strip() == "2"


def test_the_database_file_is_its_owners_alone_whether_new_or_found(tmp_path: Path) -> None:
    new, found = tmp_path / "new.db", tmp_path / "found.db"
    found.touch(mode=0o644)
    for database in (new, found):
        engine = open_engine(f"sqlite:///{database}")
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        assert stat.S_IMODE(database.stat().st_mode) == 0o600, database
