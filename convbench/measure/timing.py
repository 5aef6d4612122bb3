"""Timing and memory of one call, measured (never computed from a formula).

Time: `alternating_medians` is the one protocol for every comparison (its
docstring gives each step and why); `median_seconds` times one call alone,
for asv-style absolute figures.

Memory, two ways, because no one hook sees every allocator:
- traced bytes: the peak of tracemalloc during the call, above where it began.
  numpy and pyFFTW-aligned arrays show up here; allocations inside
  Numba-compiled code, FFTW's internal buffers and torch's CPU allocator do not.
- RSS bytes: the rise of the process's peak resident set (VmHWM) during the
  call, after resetting the peak through /proc/self/clear_refs. This sees every
  allocator (torch's, Numba's, FFTW's), at page granularity. glibc would
  normally serve a repeated large request from memory it kept resident, which
  hides it; `fresh_large_allocations()` fixes malloc's mmap threshold so every
  large block is mapped afresh and returned on free, and every measurement
  first trims glibc's free chunks (malloc_trim) so reusing one shows. The
  timing functions put the allocator back in timing's state (allocator.py).
  Kernels before 6.16 report VmRSS/VmHWM from per-CPU counters that may lag by
  a batch of pages per CPU (up to MiBs where many CPUs are possible), so the
  rise is also taken from smaps_rollup, an exact page-table walk, at the end of
  the call while its result is still alive: the peak is never below that.

The workspace of a plan is what it holds (arrays traced while it was built)
plus the peak rise during one steady-state call.

Every timing function holds the machine's measurement lock while it times
(convbench.measure.measurement_lock): one measurement at a time per machine; and
keeps glibc's freed memory resident (allocator.keep_freed_memory), so that no
side of a ratio pays page faults left to the chance of what ran before it.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import os
import statistics
import sys
import time
import tracemalloc
from typing import Callable

from convbench.measure.allocator import fresh_large_allocations, keep_freed_memory, release_free_heap
from convbench.measure.measurement_lock import measuring

_STATUS = "/proc/self/status"


def exclusive(timing):
    """timing(...) under the machine's measurement lock (re-entrant: free inside a command that holds it),
    with glibc's malloc in timing's state."""
    @functools.wraps(timing)
    def locked(*args, **kwargs):
        with measuring(" ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]])[:200]):
            keep_freed_memory()  # every side of a comparison meets the same allocator (allocator.py)
            return timing(*args, **kwargs)
    return locked


@exclusive
def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1,
                   sync: Callable[[], None] | None = None) -> float:
    """Median wall time of fn() over `repeats` calls after `warmup` untimed ones."""
    _check_repeats(repeats)
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


@exclusive
def alternating_medians(fns: dict, repeats: int = 5, warmup: int = 1,
                        sync: Callable[[], None] | None = None) -> dict:
    """{name: median wall time of fns[name]()}: convbench's one timing protocol for comparing
    calls, used by the targets, the sweeps, `recommend`, the asv ratio suite and `stages`.

    Each step, and why:
    - warm-up: every function runs `warmup` times untimed first (compilation, FFTW wisdom,
      first-touch of the plan's buffers are not the steady state);
    - turns: the calls are taken in rounds, one of each per round, so that each meets the same
      drift of a shared machine and a ratio of two medians is fair;
    - an untimed call before each timed one, of the same function: none is timed on the caches
      and the spinning thread pools that the previous function left (torch timed right after a
      large-tile FFT ran far slower:
      results/records/implementation-choices.json, row timing-untimed-call-before-each);
    - the median of the timed calls, robust to the odd descheduled one;
    - sync (the GPU's synchronize) ends every call before the clock is read."""
    _check_repeats(repeats)
    sync = sync or (lambda: None)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync()
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(_timed_after(fn, fn, sync))
    return {name: statistics.median(times) for name, times in samples.items()}


def _check_repeats(repeats) -> None:
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        from convbench.core.errors import ConvError

        raise ConvError(f"repeats must be an int >= 1 (the timed calls a median is taken of); got {repeats!r}")


def _timed_after(first: Callable[[], object], timed: Callable[[], object], sync: Callable[[], None]) -> float:
    """Seconds of timed(), called right after an untimed first(), each ended by sync()."""
    first()
    sync()
    start = time.perf_counter()
    timed()
    sync()
    return time.perf_counter() - start


def speedup(candidate: Callable[[], object], peer: Callable[[], object], repeats: int = 5, warmup: int = 1,
            sync: Callable[[], None] | None = None) -> float:
    """How many times faster candidate() is than peer(): peer's median over candidate's,
    both timed by alternating_medians in this process (the ratio a speed claim may quote)."""
    times = alternating_medians({"candidate": candidate, "peer": peer}, repeats, warmup, sync)
    return times["peer"] / times["candidate"]


@exclusive
def interference(ours: Callable[[], object], peer: Callable[[], object], repeats: int = 15,
                 sync: Callable[[], None] | None = None) -> dict:
    """How much each side slows the other down by running just before it: {"ours after peer",
    "peer after ours"}, each the median time of that call right after the other side's call over
    its median right after itself (1.0: no effect). Spinning thread pools and evicted caches show
    here. The four orders are taken in turns, each round once, against the same drift."""
    sync = sync or (lambda: None)
    orders = {"ours after ours": (ours, ours), "ours after peer": (peer, ours),
              "peer after peer": (peer, peer), "peer after ours": (ours, peer)}
    samples = {name: [] for name in orders}
    ours(), peer()
    for _ in range(repeats):
        for name, (first, timed) in orders.items():
            samples[name].append(_timed_after(first, timed, sync))
    median = {name: statistics.median(times) for name, times in samples.items()}
    return {"ours after peer": median["ours after peer"] / median["ours after ours"],
            "peer after ours": median["peer after ours"] / median["peer after peer"]}


@contextlib.contextmanager
def _tracing():
    """tracemalloc on for the block (left on if the caller had it on), after a collection."""
    gc.collect()
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        yield
    finally:
        if started_here:
            tracemalloc.stop()


def peak_traced_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes allocated through tracked allocators (numpy, Python) during fn()."""
    with _tracing():
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        del result
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
        _exact_rss_kib()
    except (OSError, RuntimeError):
        return False
    return True


def _exact_rss_kib() -> int:
    """Resident set from a walk of the page tables (exact, unlike VmRSS on older kernels)."""
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Rss:"):
                return int(line.split()[1])
    raise RuntimeError("Rss not in /proc/self/smaps_rollup")


def peak_rss_bytes(fn: Callable[[], object]) -> int:
    """Rise of the process's peak resident memory during fn(), in bytes (Linux only)."""
    gc.collect()
    release_free_heap()
    exact_before = _exact_rss_kib()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current RSS
    before = _status_kib("VmRSS")
    result = fn()
    peak = _status_kib("VmHWM")
    held_at_end = _exact_rss_kib() - exact_before
    del result
    return max(0, peak - before, held_at_end) * 1024


def peak_rss_or_none(fn: Callable[[], object]) -> int | None:
    """peak_rss_bytes(fn), with freed large blocks leaving the resident set so that the peak shows; where
    Linux's counters or glibc's mallopt are missing, fn runs all the same and the answer is None."""
    if rss_peak_supported() and fresh_large_allocations():
        return peak_rss_bytes(fn)
    fn()
    return None


def held_traced_bytes(build: Callable[[], object]):
    """(object built, bytes it still holds through tracked allocators once built)."""
    with _tracing():
        before, _ = tracemalloc.get_traced_memory()
        built = build()
        after, _ = tracemalloc.get_traced_memory()
    return built, max(0, after - before)


def held_device_bytes(build: Callable[[], object]):
    """(object built, device bytes it still holds in torch's caching allocator once built)."""
    import torch
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    built = build()
    torch.cuda.synchronize()
    return built, max(0, torch.cuda.memory_allocated() - before)


def peak_device_bytes(fn: Callable[[], object]) -> int:
    """Peak rise of GPU memory allocated through torch's caching allocator during fn().

    The cuda plans allocate every device buffer there (convbench.algorithms.gpu),
    cuFFT's and cuDNN's workspaces included, so this is all of a call's device
    memory. Needs a real GPU: the simulator has no device allocator."""
    import torch
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    result = fn()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del result
    return max(0, peak - before)


def workspace_bytes(build_plan: Callable[[], Callable], x, w, device: bool = False) -> int:
    """Measured memory one convolution needs beyond its inputs: what the plan
    holds once built and called once, plus the peak rise of one steady-state call.

    A plan may make a pass's buffers on its first call (the gradients' own, in a
    training step): they are held from then on, so they count as held, not as a
    call's rise, which after the first call they no longer are.

    Host memory (traced bytes held, RSS rise of the call), or with device=True
    device memory from torch's allocator (x, w already on the device)."""
    if device:
        held_by, peak_of = held_device_bytes, peak_device_bytes
    else:
        fresh_large_allocations()
        held_by, peak_of = held_traced_bytes, peak_rss_bytes
    warm = build_plan()  # imports, compiled kernels and FFTW wisdom are not this plan's workspace
    warm(x, w)
    del warm

    def built_and_called():
        built = build_plan()
        built(x, w)  # its result is dropped: the caller's memory, not the plan's
        return built

    plan, held = held_by(built_and_called)
    return held + peak_of(lambda: plan(x, w))


def on_backend(backend: str, *arrays):
    """(arrays where a plan of `backend` reads them, the call that ends a timed call there).

    On cuda the host arrays are copied to the device once, so that timings see
    the convolution and not the copies, and the clock waits for the device."""
    if backend != "cuda":
        return arrays, lambda: None
    from convbench.algorithms.gpu import from_host, synchronize
    return tuple(from_host(array) for array in arrays), synchronize
