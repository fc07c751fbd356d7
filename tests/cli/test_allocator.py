"""`gsomia serve` bounds glibc's malloc arenas (cli/allocator.py): threads that start after it share at most
ARENA_MAX arenas, where without it each new thread gets one of its own. Counted by glibc itself
(malloc_info's <heap> elements), in a fresh process each time."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from gsomia.cli.allocator import ARENA_MAX

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc arenas")

THREADS = 8

# Starts THREADS threads that each malloc while all are alive, then prints the bound in force and how many
# arenas malloc_info lists.
SCRIPT = """
import ctypes, sys, threading
bound = None
if sys.argv[1] == "bounded":
    from gsomia.cli.allocator import bound_malloc_arenas
    bound = bound_malloc_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
together = threading.Barrier(%(threads)d)

def allocate():
    block = libc.malloc(4096)
    together.wait()
    libc.free(block)

threads = [threading.Thread(target=allocate) for _ in range(%(threads)d)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
out = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
print(bound, open(sys.argv[2]).read().count("<heap nr="))
""" % {"threads": THREADS}


def _arenas(tmp_path: Path, mode: str, arena_max_env: str | None = None) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if arena_max_env is not None:
        env["MALLOC_ARENA_MAX"] = arena_max_env
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(tmp_path / "malloc_info.xml")], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    bound, arenas = done.stdout.split()
    return bound, int(arenas)


def test_threads_share_at_most_arena_max_arenas_once_bounded(tmp_path: Path) -> None:
    assert _arenas(tmp_path, "bounded") == (str(ARENA_MAX), ARENA_MAX)


def test_without_the_bound_each_thread_takes_an_arena_of_its_own(tmp_path: Path) -> None:
    # What the bound is for: one arena per thread (up to 8 per core), the main thread's besides.
    bound, arenas = _arenas(tmp_path, "unbounded")
    assert bound == "None" and arenas > ARENA_MAX
    assert arenas >= min(THREADS + 1, 8 * (os.cpu_count() or 1))


def test_the_operators_malloc_arena_max_is_kept(tmp_path: Path) -> None:
    bound, arenas = _arenas(tmp_path, "bounded", arena_max_env="4")
    assert bound == "4" and ARENA_MAX < arenas <= 4
