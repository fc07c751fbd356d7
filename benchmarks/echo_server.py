"""The baseline's server: a plain HTTPS endpoint that reads the body and answers 200 (same TLS files and uvicorn).

    python -m benchmarks.echo_server PORT CERT KEY PASSWORD [DATABASE]

With DATABASE (a SQLite file), each body is also inserted there and committed durably (WAL,
synchronous=FULL) before the answer: the cheapest request that persists something, for reference.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

import uvicorn

database: sqlite3.Connection | None = None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body, more = [], True
    while more:
        message = await receive()
        body.append(message.get("body", b""))
        more = message.get("more_body", False)
    if database is not None:
        with database:  # one transaction, committed (and fsynced) before the answer
            database.execute("INSERT INTO bodies (body) VALUES (?)", (b"".join(body),))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def open_database(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, body BLOB)")
    connection.isolation_level = "DEFERRED"
    return connection


if __name__ == "__main__":
    port, certificate, key, password = sys.argv[1:5]
    if len(sys.argv) > 5:
        database = open_database(sys.argv[5])
    uvicorn.run(app, host="127.0.0.1", port=int(port), ssl_certfile=certificate, ssl_keyfile=key,
                ssl_keyfile_password=password, log_level="critical", access_log=False)
