"""Asking partners for the audit anchors they hold of this node (the peer endpoint's /peer/v1/anchors),
over mutual TLS with each partner's certificate pinned as the connection is made (as the sender does)."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import cbor2

from gsomia.federation.sender import CONTENT_TYPE
from gsomia.services.context import Node

ANCHORS_PATH = "/peer/v1/anchors"


async def fetch_anchors(node: Node, tls: ssl.SSLContext, timeout_s: float = 10.0) -> dict[str, list[bytes] | str]:
    """Per partner: the signed anchors it holds of us, or why they could not be had."""
    parties = sorted(node.partners.by_party)
    answers = await asyncio.gather(*(_fetch(node, party, tls, timeout_s) for party in parties))
    return dict(zip(parties, answers, strict=True))


async def _fetch(node: Node, party: str, tls: ssl.SSLContext, timeout_s: float) -> list[bytes] | str:
    peer = node.partners.by_party[party]
    connector = aiohttp.TCPConnector(ssl=aiohttp.Fingerprint(bytes.fromhex(peer.tls_fingerprint)))
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)) as s, \
                s.post(peer.url + ANCHORS_PATH, data=b"", ssl=tls, headers={"content-type": CONTENT_TYPE}) as answer:
            status, content = answer.status, await answer.read()
    except aiohttp.ServerFingerprintMismatch:
        return f"{party}'s TLS certificate is not the pinned one"
    except (aiohttp.ClientError, TimeoutError, ssl.SSLError, OSError) as bad:
        return f"{party} unreachable: {type(bad).__name__}: {bad}"
    if status != 200:
        return f"{party} answered HTTP {status}"
    try:
        records = cbor2.loads(content)
    except Exception as bad:  # cbor2 raises several unrelated types on hostile bytes
        return f"{party}'s answer is not CBOR: {type(bad).__name__}"
    if not isinstance(records, list) or not all(isinstance(r, bytes) for r in records):
        return f"{party}'s answer is not a list of signed records"
    return records
