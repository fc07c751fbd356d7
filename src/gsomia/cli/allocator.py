"""The C allocator of a serving process: glibc's malloc arenas bounded, as `gsomia serve` starts.

glibc's malloc gives each thread that finds the arenas busy an arena of its own, up to 8 per core, and
keeps every arena for the life of the process; what a thread frees stays in its arena's heap, and a
thread arena's heap is hardly ever given back to the system (only its top, past M_TRIM_THRESHOLD). A node
has many threads that come and go: the API's worker threads (anyio's, which end after 10 s idle, and the
next request starts another), asyncio's executor, the store's writer, the feed's replay writer, `limits`'
timer threads, SQLite's pooled connections used from any of them. Spread over 15 to 22 arenas (2 cores),
the freed memory of each piled up: under benchmarks/load.py, KOR's resident memory grew from 139 to 246 MB
in 12 minutes, malloc_info counted 65 of the arenas' 109 MB free and malloc_trim(0) handed 56 MB back at
once. Bounded, the same run side by side: 138 to 203 MB, 12 of 69 MB free, the rest the feed's replay
buffer filling for its first ten minutes and SQLite's page caches (docs/security.md, "Load").

ARENA_MAX arenas, the main one included: Python holds the GIL around most allocations, so threads
hardly contend for an arena; SQLite's work outside the GIL shares the arenas' locks. In the 12-minute
runs side by side the bounded node served as many requests (4,041 releases against 3,942); the release
benchmarks were not run against it. An operator who sets MALLOC_ARENA_MAX (glibc reads
it at the process's start) keeps that setting: it is not overridden here.
"""

from __future__ import annotations

import ctypes
import os
import sys

ARENA_MAX = 2
M_ARENA_MAX = -8  # glibc's malloc.h


def bound_malloc_arenas(arena_max: int = ARENA_MAX) -> int | None:
    """Let glibc's malloc create at most `arena_max` arenas from now on (call it before the threads start).

    Returns the bound in force: `arena_max`, the operator's MALLOC_ARENA_MAX, or None where the C library
    is not glibc (musl has no per-thread arenas; macOS's allocator is another)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    chosen = os.environ.get("MALLOC_ARENA_MAX", "").strip()
    if chosen.isdigit() and int(chosen) > 0:
        return int(chosen)
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return arena_max if mallopt(M_ARENA_MAX, arena_max) == 1 else None
