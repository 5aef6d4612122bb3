"""This machine's two roofline ceilings, measured: copy bandwidth and fp32 peak.

Zlateski et al.'s per-stage roofline: a stage that must move B bytes and do F
flops takes at least max(B / bandwidth, F / peak). The counts come from the
shapes (convbench.algorithms.work); the two ceilings are measured here, once
per process, with the timing protocol every comparison uses:
- bandwidth: a 64 MiB float32 copy (numpy), read plus write bytes over its time,
  what a streaming stage can hope for;
- peak: the cores' fp32 FMA throughput (convbench.measure.fma_peak), not a GEMM
  library's: a stage at the bound is as fast as the cores allow, where MKL's
  sgemm on an AMD chip leaves part of them idle. torch's sgemm on 2048 x 2048
  matrices is measured beside it, for the record, and the same product on the engine our
  algorithms' GEMMs run on (algorithms/blas.py; bench_machine.Sgemm charts all three).
A bound is a bound: computed, never a measurement of the stage.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from convbench.measure.timing import alternating_medians

COPY_BYTES = 64 * 2**20
SGEMM_SIZE = 2048


@dataclass(frozen=True)
class Ceilings:
    bytes_per_second: float
    flops_per_second: float                        # the fp32 FMA peak
    sgemm_flops_per_second: float | None = None    # torch's sgemm, what its BLAS reaches
    engine_sgemm_flops_per_second: float | None = None  # the same on our GEMMs' engine (blas.engine())

    def bound_seconds(self, work) -> float:
        """The roofline's lower bound for a stage's algorithms.work.Work."""
        return max(work.bytes / self.bytes_per_second, work.flops / self.flops_per_second)


@functools.lru_cache(maxsize=1)
def measured_ceilings(repeats: int = 5) -> Ceilings:
    import torch

    from convbench.measure.fma_peak import fma_peak_flops

    source = np.ones(COPY_BYTES // 4, dtype=np.float32)
    target = np.empty_like(source)
    from convbench.algorithms import blas

    a, b = torch.ones(SGEMM_SIZE, SGEMM_SIZE), torch.ones(SGEMM_SIZE, SGEMM_SIZE)
    out = torch.empty(SGEMM_SIZE, SGEMM_SIZE)
    times = alternating_medians({"copy": lambda: np.copyto(target, source), "sgemm": lambda: torch.mm(a, b),
                                 "engine": lambda: blas.product(a, b, out)}, repeats)
    return Ceilings(2 * COPY_BYTES / times["copy"], max(fma_peak_flops(repeats=repeats).values()),
                    2 * SGEMM_SIZE**3 / times["sgemm"], 2 * SGEMM_SIZE**3 / times["engine"])


def calibration() -> dict:
    """This run's yardstick, stored with every result (the guard's figures, the corpus records; asv's
    results get the same from suites/bench_machine.py): the copy bandwidth in GB/s, the fp32 FMA peak
    and torch's sgemm in GFLOP/s, measured in this process. The peak is what the cores do, the sgemm
    what this machine's GEMM reaches, neither the chip's datasheet figure; two runs on one chip should
    agree within noise, and a run that does not was on a busier or a different machine."""
    ceilings = measured_ceilings()
    return {"copy_gbps": round(ceilings.bytes_per_second / 1e9, 2),
            "fma_peak_gflops": round(ceilings.flops_per_second / 1e9, 1),
            "sgemm_gflops": round(ceilings.sgemm_flops_per_second / 1e9, 1)}
