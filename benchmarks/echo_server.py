"""The baseline's server: a plain HTTPS endpoint that reads the body and answers 200 (same TLS files and uvicorn)."""

from __future__ import annotations

import sys

import uvicorn


async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def, type-arg]
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


if __name__ == "__main__":
    port, certificate, key, password = sys.argv[1:5]
    uvicorn.run(app, host="127.0.0.1", port=int(port), ssl_certfile=certificate, ssl_keyfile=key,
                ssl_keyfile_password=password, log_level="critical", access_log=False)
