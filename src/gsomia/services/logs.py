"""The node's logs: one JSON object per line (or plain text), each line of a request carrying its request id.

`configure(level, fmt)` installs one handler on the root logger (`gsomia serve` calls it); `request_id` is
the context variable the API's middleware sets (api/observe.py), read by the formatter, so every line
logged while a request is handled names it, whichever module logs. What goes in a line is what the
code logs: no module logs content, labels' text, tokens or keys, and the access log holds only the method,
the path without its query, the status, the duration and the official's id.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any, Literal, TextIO

LogFormat = Literal["json", "text"]
# Libraries that log what passes through them at INFO or DEBUG: SQL parameters (sqlalchemy), feed frames
# (websockets), request lines and headers (httpx, httpcore, aiohttp, uvicorn's access log). Never below WARNING,
# whatever the level: their lines could carry a token or classified content.
QUIET = ("sqlalchemy", "websockets", "httpx", "httpx2", "httpcore", "hpack", "aiohttp", "uvicorn.access", "nats",
         "alembic")
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("gsomia_request_id", default=None)
# What the standard library puts on every record: the rest are the caller's `extra` fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request_id if any, the
    record's `extra` fields, and the exception's type, message and traceback if one is logged."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        current = request_id.get()
        if current is not None:
            line["request_id"] = current
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = {"type": record.exc_info[0].__name__, "message": str(record.exc_info[1]),
                             "trace": self.formatException(record.exc_info)}
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        current = request_id.get()
        return f"{text} [request {current}]" if current is not None else text


def configure(level: str = "info", fmt: LogFormat = "json", stream: TextIO | None = None) -> logging.Handler:
    """The root logger writes `fmt` lines at `level` and above to `stream` (stderr). uvicorn's own access log
    stays off: the API's (api/observe.py) replaces it. Returns the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_gsomia", False)]:
        root.removeHandler(old)
    handler._gsomia = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
