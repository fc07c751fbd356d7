"""Run as a script by the crash and concurrency tests: append audit entries, one transaction each,
printing each seq only after its commit returned (an acknowledged write).

    python appender.py URL SCHEMA|- COUNT NAME [PAUSE_SECONDS]

PAUSE_SECONDS between transactions lets a second appender take the lock: SQLite's busy handler
backs off, so without a pause one process tends to run all its appends first.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

from gsomia.services.audit_log import EntryDraft, append
from gsomia.storage import Store, open_engine


def main() -> None:
    url, schema, count, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    store = Store(open_engine(url, schema=None if schema == "-" else schema, sqlite_synchronous="FULL"))
    with store.unit_of_work(readonly=True) as uow:
        uow.audit.head()  # connected before "ready", so the two children really overlap
    print("ready", flush=True)
    sys.stdin.readline()  # wait for "go"
    for n in range(count):
        with store.unit_of_work() as uow:
            entry = append(uow, datetime.now(timezone.utc),
                           [EntryDraft(name, "test", "test.append", f"{name}-{n}", None, ("R6.f",), (str(n),))])
        print(entry.last_seq, flush=True)  # after commit: acknowledged
        if pause:
            time.sleep(pause)
    store.dispose()


if __name__ == "__main__":
    main()
