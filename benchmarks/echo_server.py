"""The baseline's server: a plain HTTPS endpoint that reads the body and answers 200 (same TLS files and uvicorn).

    python -m benchmarks.echo_server PORT CERT KEY PASSWORD [DATABASE [FORWARD_URL CAFILE]]

With DATABASE (a SQLite file), each body is also inserted there and committed durably (WAL,
synchronous=FULL) before the answer: the cheapest request that persists something, for reference.
With FORWARD_URL too, the body is then POSTed there (HTTPS, keep-alive, the server's certificate
checked against CAFILE) and answered once that server has answered: two hops and two durable commits,
the bare shape of a release and its receipt, without any of its checks, for reference.
"""

from __future__ import annotations

import sqlite3
import ssl
import sys
from typing import Any

import httpx
import uvicorn

database: sqlite3.Connection | None = None
forward: tuple[str, str] | None = None  # (URL, CA file)
_client: httpx.AsyncClient | None = None


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
    if forward is not None:
        (await _forwarding_client().post(forward[0], content=b"".join(body))).raise_for_status()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _forwarding_client() -> httpx.AsyncClient:
    global _client
    if _client is None:  # made on the server's loop, at the first request
        assert forward is not None
        _client = httpx.AsyncClient(verify=ssl.create_default_context(cafile=forward[1]), timeout=30)
    return _client


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
    if len(sys.argv) > 7:
        forward = sys.argv[6], sys.argv[7]
    uvicorn.run(app, host="127.0.0.1", port=int(port), ssl_certfile=certificate, ssl_keyfile=key,
                ssl_keyfile_password=password, log_level="critical", access_log=False)
