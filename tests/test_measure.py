"""The measurements themselves: they must see what they claim to see."""
import os
import time

import numpy as np
import pytest

import convbench
from convbench.measure import timing as measure


def test_median_seconds_measures_the_call():
    assert measure.median_seconds(lambda: time.sleep(0.02), repeats=3) == pytest.approx(0.02, abs=0.015)


def test_traced_bytes_see_a_numpy_allocation():
    assert measure.peak_traced_bytes(lambda: np.ones(1_000_000)) >= 8_000_000
    assert measure.peak_traced_bytes(lambda: None) < 100_000


@pytest.mark.skipif(not measure.rss_peak_supported(), reason="needs Linux /proc/self/clear_refs")
def test_rss_rise_sees_memory_no_tracer_sees():
    import torch
    measure.fresh_large_allocations()
    rise = measure.peak_rss_bytes(lambda: torch.ones(16_000_000).sum())  # 64 MB through torch's allocator
    assert 60e6 <= rise <= 80e6
    assert measure.peak_traced_bytes(lambda: torch.ones(16_000_000).sum()) < 1e6


@pytest.mark.skipif(not measure.rss_peak_supported(), reason="needs Linux /proc/self/clear_refs")
def test_rss_rise_counts_every_page_the_result_still_holds():
    import torch
    measure.fresh_large_allocations()
    # torch writes the pages from its worker threads: per-CPU RSS counters may not have caught up.
    # RSS is page-granular: the result's first and last pages may already have been resident
    # (an allocator that reuses memory), so up to two pages of its bytes need not show as a rise.
    slack = 2 * os.sysconf("SC_PAGE_SIZE")
    assert measure.peak_rss_bytes(lambda: torch.ones(1_000_000)) >= 4_000_000 - slack
    assert measure.peak_rss_bytes(lambda: np.ones(500_000)) >= 4_000_000 - slack


# In a fresh process, whose heap holds no large free chunk from earlier tests: (resident rise of a repeated
# 8 MB request under the memory measurement's allocator, the same after a timing function has run)
REPEATED_REQUEST = """
import numpy as np
from convbench.measure import timing

def rise():
    np.ones(2_000_000, dtype=np.float32)  # allocated, written and freed once before
    before = timing._exact_rss_kib()
    again = np.ones(2_000_000, dtype=np.float32)
    return (timing._exact_rss_kib() - before) * 1024

print(timing.fresh_large_allocations(), rise(), timing.median_seconds(lambda: None, repeats=1) >= 0, rise())
"""


@pytest.mark.skipif(not measure.rss_peak_supported(), reason="needs Linux /proc/self/smaps_rollup")
def test_timing_reuses_freed_memory_where_the_memory_measurement_maps_it_afresh():
    """A repeated 8 MB request: under the memory measurement's allocator it is mapped and faulted in again each
    time, so its peak shows; once a timing function has run, it comes back from pages still resident, so no
    timed call pays faults that depend on what ran before it."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", REPEATED_REQUEST], capture_output=True, text=True, check=True)
    mallopt, afresh, _, kept = done.stdout.split()
    if mallopt != "True":
        pytest.skip("needs glibc's mallopt")
    assert int(afresh) >= 0.9 * 8_000_000 and int(kept) < 0.1 * 8_000_000


def test_workspace_counts_buffers_a_plan_makes_on_its_first_call():
    """A plan that makes a buffer on its first call and keeps it: the buffer is workspace, though no
    steady-state call allocates it again."""
    class Lazy:
        def __call__(self, x, w):
            if not hasattr(self, "buffer"):
                self.buffer = np.ones(2_000_000, dtype=np.float32)  # 8 MB, written: resident
            return x

    x = w = np.zeros(1, dtype=np.float32)
    assert measure.workspace_bytes(Lazy, x, w) >= 8_000_000


def test_workspace_grows_with_the_problem():
    small = convbench.ConvSpec(N=1, C=8, H=32, W=32, K=8, R=5, S=5, padding=2)
    large = convbench.ConvSpec(N=4, C=8, H=64, W=64, K=8, R=5, S=5, padding=2)
    sizes = {}
    for spec in (small, large):
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, spec.input_shape).astype(np.float32)
        w = rng.uniform(-1, 1, spec.filter_shape).astype(np.float32)
        for algorithm in ("fft", "torch"):
            sizes[spec, algorithm] = measure.workspace_bytes(lambda: convbench.plan(spec, algorithm), x, w)
    for algorithm in ("fft", "torch"):
        output_bytes = 4 * np.prod(large.output_shape)
        assert sizes[large, algorithm] >= output_bytes  # at least the output it writes
        assert sizes[large, algorithm] > 4 * sizes[small, algorithm]  # 16x the pixels
