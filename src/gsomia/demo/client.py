"""An official's HTTPS client for a loopback node, and a bounded wait: shared by the demo and the tests."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def official_client(api_url: str, root_certificate: Path, token: str) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(root_certificate))
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=api_url, verify=context, timeout=20, headers=headers)


def wait_for(condition: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """Poll (bounded) until `condition()` is truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def events(client: httpx.Client, item_id: str) -> list[dict[str, Any]]:
    history = client.get(f"/v1/items/{item_id}/history").json()
    return list(history if isinstance(history, list) else history["events"])


def holding(client: httpx.Client, origin_ref: str) -> list[dict[str, Any]]:
    listing = client.get("/v1/items").json()
    items = listing if isinstance(listing, list) else listing["items"]
    return [i for i in items if i.get("origin_ref") == origin_ref]
