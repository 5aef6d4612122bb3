"""Timing and memory of one call, measured (never computed from a formula).

Time: warm up, then the median of repeats, synchronising the device (if any)
before the clock is read.

Memory, two ways, because no one hook sees every allocator:
- traced bytes: the peak of tracemalloc during the call, above where it began.
  numpy and pyFFTW-aligned arrays show up here; allocations inside
  Numba-compiled code, FFTW's internal buffers and torch's CPU allocator do not.
- RSS bytes: the rise of the process's peak resident set (VmHWM) during the
  call, after resetting the peak through /proc/self/clear_refs. This sees every
  allocator, at page granularity, but not memory the allocator already held.
"""
from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from typing import Callable

_STATUS = "/proc/self/status"


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1,
                   sync: Callable[[], None] | None = None) -> float:
    """Median wall time of fn() over `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def peak_traced_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes allocated through tracked allocators (numpy, Python) during fn()."""
    gc.collect()
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        if started_here:
            tracemalloc.stop()
    return max(0, peak - before)


def _status_kib(field: str) -> int:
    with open(_STATUS) as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in {_STATUS}")


def rss_peak_supported() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        _status_kib("VmHWM")
    except OSError:
        return False
    return True


def peak_rss_bytes(fn: Callable[[], object]) -> int:
    """Rise of the process's peak resident memory during fn(), in bytes (Linux only)."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current RSS
    before = _status_kib("VmRSS")
    result = fn()
    peak = _status_kib("VmHWM")
    del result
    return max(0, peak - before) * 1024


def process_peak_rss_bytes() -> int:
    """VmHWM of this process: starts afresh at exec, unlike ru_maxrss which survives fork and exec."""
    return _status_kib("VmHWM") * 1024
