"""Whether the threads that run a call share a last-level cache right now: a probe, so that each ratio is
filed with the placement it was measured in.

A virtual machine's vCPUs are threads of the host, which moves them between its cores. On a chip built of
core complexes, each with its own L3 (AMD's CCDs), two vCPUs sit in one complex for a while, then in two,
then in one again: on the Zen 5 VM here the placement changed every few seconds, and the guest is not
told (it sees one L3 throughout). Split, what one thread writes reaches the other from the other complex.
Our Winograd calls on two threads then ran up to twice as slow, direct's and the FFT tiles' moved less,
and the peers' (torch's direct, oneDNN 2.6's Winograd, NNPACK) did not move: a ratio of ours against a
peer moves with the placement, whatever the code does (results/records/thread-placement.json).

The probe: each thread of the algorithms' pool writes a block of its own, past a core's L2 and within an
L3, then reads its own block or its neighbour's; the neighbour's read over its own is about 1 in one L3
and about twice that split (the record, where SPLIT_ABOVE comes from).
"""
from __future__ import annotations

from typing import Callable, TypeVar

import numpy as np
from numba import njit, prange

import convbench.algorithms.pools  # noqa: F401  (Numba's threading layer: torch's OpenMP pool)
from convbench.measure.timing import alternating_medians

BLOCK_FLOATS = 1 << 20  # 4 MiB a thread: past a core's L2, within an L3
# neighbour's read / own read above which the threads are split: in the gap between the probe's two
# states (the first row of results/records/thread-placement.json)
SPLIT_ABOVE = 1.4
PROBE_REPEATS = 5
TRIES = 3  # measurements of one case, at most, while the placement changes under it

SHARED, SPLIT, ONE_THREAD, CHANGED = "shared L3", "split", "one thread", "changed"

T = TypeVar("T")


@njit(parallel=True, cache=True)
def _write(blocks, value):
    for thread in prange(blocks.shape[0]):  # one block a thread: the static schedule gives block i to thread i
        block = blocks[thread]
        for i in range(block.shape[0]):
            block[i] = value + i


@njit(parallel=True, cache=True)
def _read(blocks, shift, sums):
    threads = blocks.shape[0]
    for thread in prange(threads):
        block = blocks[(thread + shift) % threads]
        total = np.float32(0.0)
        for i in range(block.shape[0]):
            total += block[i]
        sums[thread] = total


def cross_read_ratio(threads: int | None = None, repeats: int = PROBE_REPEATS) -> float | None:
    """Time of writing each thread's block then reading its neighbour's, over writing then reading its
    own (medians, in turns); None with one thread."""
    import torch

    threads = threads or torch.get_num_threads()
    if threads < 2:
        return None
    blocks = np.zeros((threads, BLOCK_FLOATS), np.float32)
    sums = np.zeros(threads, np.float32)

    def own():
        _write(blocks, 1.0)
        _read(blocks, 0, sums)

    def neighbours():
        _write(blocks, 1.0)
        _read(blocks, 1, sums)

    times = alternating_medians({"own": own, "neighbour": neighbours}, repeats)
    return times["neighbour"] / times["own"]


def placement(ratio: float | None = None) -> str:
    """SHARED, SPLIT or ONE_THREAD, from cross_read_ratio() (probed now unless given)."""
    ratio = cross_read_ratio() if ratio is None else ratio
    if ratio is None:
        return ONE_THREAD
    return SPLIT if ratio > SPLIT_ABOVE else SHARED


def in_one_placement(measure: Callable[[], T], tries: int = TRIES,
                     probe: Callable[[], str] | None = None) -> tuple[T, str]:
    """(measure(), the placement it ran in), probed (default: placement()) before and after: measured again
    while the two differ, up to `tries` times in all; CHANGED when they never agreed (the last
    measurement is returned)."""
    probe = probe or placement
    for _ in range(tries):
        before = probe()
        result = measure()
        if probe() == before:
            return result, before
    return result, CHANGED
