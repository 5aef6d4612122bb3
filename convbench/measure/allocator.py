"""glibc's malloc held in one known state for each kind of measurement.

Left to itself, glibc moves its mmap threshold up each time it frees a mapped block, and hands the
top of its heap back to the kernel once the free part passes twice that threshold. Whether a call's
large temporaries (torch's output, a peer's scratch) come from pages already resident or are faulted
in afresh, every call, then depends on what the process happened to allocate before: torch's conv2d
on one layer read twice as slow in one process as in the next, for no reason in torch
(results/records/implementation-choices.json, row timing-allocator-keeps-freed-memory). So:

- timing (`keep_freed_memory`, which every timing function calls): freed memory stays with the
  process and is reused, as in a long-running job or under the caching allocators (jemalloc,
  tcmalloc) torch's CPU tuning guides recommend. Both sides of a ratio meet the same allocator, and
  none pays page faults that another process of the same run would not;
- memory (`fresh_large_allocations`, which the memory measurements call): every large block mapped
  afresh and returned on free, so that a call's peak shows in the resident set.

A process switches between them as it measures (`convbench targets` measures workspaces between its
timings). `TIMING_TUNABLES` puts a fresh process in the timing state from its start (the guard's
processes, where REF's own code may predate this module).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters

# Timing: requests below KEPT_MMAP_THRESHOLD come from the heap and return to it (glibc refuses a
# higher threshold on 64-bit: half its largest heap), and up to KEPT_TRIM_BYTES of free heap stays
# resident; fixing either turns off glibc's moving threshold.
KEPT_MMAP_THRESHOLD = 32 << 20
KEPT_TRIM_BYTES = 1 << 30
TIMING_TUNABLES = f"glibc.malloc.mmap_threshold={KEPT_MMAP_THRESHOLD}:glibc.malloc.trim_threshold={KEPT_TRIM_BYTES}"

_state: str | None = None  # "timing", "memory", or None: glibc's own


@functools.lru_cache(maxsize=None)
def libc():
    # once: find_library runs ldconfig in a subprocess, and every RSS measurement asks
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def _set(state: str, mmap_threshold: int, trim_threshold: int) -> bool:
    global _state
    if _state == state:
        return True
    try:
        done = bool(libc().mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
            libc().mallopt(_M_TRIM_THRESHOLD, trim_threshold))
    except (OSError, AttributeError):
        done = False
    _state = state if done else None
    return done


def keep_freed_memory() -> bool:
    """Timing's state: freed blocks up to KEPT_MMAP_THRESHOLD stay resident and are reused.

    Returns False where there is no glibc mallopt (the allocator is then left as it is)."""
    return _set("timing", KEPT_MMAP_THRESHOLD, KEPT_TRIM_BYTES)


def fresh_large_allocations(threshold: int = 16 * 1024) -> bool:
    """Memory's state: glibc maps every allocation >= threshold afresh (and unmaps it on free).

    Returns False where there is no glibc mallopt (the RSS figures then miss
    memory an allocator recycles)."""
    return _set("memory", threshold, 2 * threshold)


def release_free_heap() -> None:
    """Hand glibc's free chunks back to the kernel, so that reusing one faults pages in again.

    malloc serves a request from a free chunk before it considers the mmap
    threshold: without this, memory freed by an earlier call is reused while
    resident and the rise misses it (torch's output read 0 bytes after a long
    test session)."""
    try:
        libc().malloc_trim(0)
    except (OSError, AttributeError):
        pass
