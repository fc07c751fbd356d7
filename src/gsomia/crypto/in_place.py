"""Large envelopes without copying their one large byte string: the fast path, pinned to the reference.

Why it exists: benchmarks/bench_envelope.py's lines "1048576 seal" and "1048576 open". The reference
codec (`_cose.dumps` / `_cose.loads`, cbor2) copies a 1 MiB ciphertext into every structure that holds
it and, to refuse anything but the deterministic encoding, decodes and re-encodes it again: measured on
2026-12-07, open fell from 103 % of raw-hash to 21 %, seal from 94 % to 71-77 % (and a seal whose
ciphertext is a fresh buffer each time to 0.38 of before: see `gcm_encrypt`). With this path both are
back within 10 % of before (the closing note of issue 12 has the runs).

What it does: only the one large byte string (the ciphertext in the COSE_Encrypt, the COSE_Encrypt in
the envelope) is taken in place. Everything around it is still written and read by the reference codec,
with that byte string emptied (h''), so the structure, the deterministic encoding, the nesting limit and
the error messages stay the reference's; the head of the large byte string is written by cbor2's encoder
and read back only if it is exactly what cbor2 writes. Whatever is not in the layout `seal` writes goes
to the reference decoder whole (the functions here answer None, never an error of their own).

tests/crypto/test_envelope_in_place.py proves both directions equal to the reference on random inputs
(hypothesis): the bytes sealed, and what is decoded from valid, mutated and non-deterministic envelopes.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from typing import Any

import cbor2
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gsomia.crypto import _cose
from gsomia.crypto._cose import CoseError

MIN_SIZE = 64 << 10  # below this the copies cost less than the Python steps that avoid them

_EMPTY = _cose.dumps(b"")
_FOLLOW = {24: 1, 25: 2, 26: 4, 27: 8}  # RFC 8949 §3: additional information → argument bytes


def bstr_head(length: int) -> bytes:
    """The head (RFC 8949 §3) of a byte string of `length` bytes, as cbor2's encoder writes it."""
    fp = io.BytesIO()
    cbor2.CBOREncoder(fp, canonical=True).encode_length(2, length)
    return fp.getvalue()


def _bstr_span(data: memoryview, pos: int) -> tuple[int, int] | None:
    """(start, end) of the byte string whose head is at `pos`, if that head is the one cbor2 writes
    and the content is all there; None otherwise."""
    if pos >= len(data) or data[pos] >> 5 != 2 or data[pos] & 0x1F > 27:
        return None
    follow = _FOLLOW.get(data[pos] & 0x1F, 0)
    start = pos + 1 + follow
    length = int.from_bytes(data[pos + 1:start]) if follow else data[pos] & 0x1F
    if start + length > len(data) or bytes(data[pos:start]) != bstr_head(length):
        return None
    return start, start + length


def _take(data: memoryview, pos: int) -> tuple[memoryview, Any] | None:
    """The byte string whose head is at `pos` (in place) and the reference decoding of `data` with it
    emptied; None if either fails."""
    span = _bstr_span(data, pos)
    if span is None:
        return None
    start, end = span
    try:
        return data[start:end], _cose.loads(b"".join((data[:pos], _EMPTY, data[end:])))
    except CoseError:
        return None


def spliced(skeleton: bytes, at: int, content: Sequence[bytes | memoryview]) -> tuple[bytes | memoryview, ...]:
    """The parts of `skeleton` (written by `_cose.dumps`) with the empty byte string at `at` replaced by
    the concatenation of `content`: joined, what `_cose.dumps` writes with that byte string in its place."""
    if skeleton[at:at + len(_EMPTY)] != _EMPTY:
        raise CoseError("no empty byte string where the content goes")
    return skeleton[:at], bstr_head(sum(map(len, content))), *content, skeleton[at + len(_EMPTY):]


_scratch = threading.local()


def gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> memoryview:
    """`_cose.gcm_encrypt`, into a buffer of this thread's that is reused: valid until its next call.

    A sealed item's ciphertext is copied into the envelope at once; a fresh 1 MiB buffer per seal,
    freed a moment later beside the envelope, makes the allocator hand pages back to the system and
    fault them in again (a page fault per 4 KiB), which costs more than the encryption ("1048576 seal":
    0.38 of before without it). Only ciphertext lives here, never plaintext.
    """
    size = len(plaintext) + 16
    buffer: bytearray | None = getattr(_scratch, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _scratch.buffer = bytearray(size)
    out = memoryview(buffer)[:size]
    AESGCM(key).encrypt_into(iv, plaintext, aad, out)
    return out


def outer(data: bytes | bytearray | memoryview, prefix: bytes) -> tuple[memoryview, Any] | None:
    """(the body in place, the reference decoding of the envelope with the body emptied), for an
    envelope that starts with `prefix` (the version's array head and version) and then the body."""
    view = memoryview(data)
    if bytes(view[:len(prefix)]) != prefix:
        return None
    return _take(view, len(prefix))


def encrypt(body: memoryview, prefix: bytes, unprotected_head: bytes, unprotected_size: int,
            ) -> tuple[memoryview, Any] | None:
    """(the ciphertext in place, the reference decoding of the COSE_Encrypt with it emptied), for a
    body laid out as `seal` writes it: `prefix` (tag and array head), the protected header's byte
    string, an unprotected map of `unprotected_size` bytes starting `unprotected_head`, the ciphertext."""
    if bytes(body[:len(prefix)]) != prefix:
        return None
    protected = _bstr_span(body, len(prefix))
    if protected is None:
        return None
    at = protected[1]
    if bytes(body[at:at + len(unprotected_head)]) != unprotected_head:
        return None
    return _take(body, at + unprotected_size)
