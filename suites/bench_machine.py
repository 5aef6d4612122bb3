"""The machine's own yardstick, measured in every run beside the convolutions: the fp32 FMA peak (the
GFLOP/s chart's peak line), sgemm throughput and copy bandwidth. Two runs filed under one machine whose yardsticks
disagree were not on the same hardware, or not on a quiet one."""
import numpy as np
import torch

from convbench.measure.roofline import COPY_BYTES
from convbench.measure.timing import median_seconds

from .common import VERSION

SIZE = 2048


class Sgemm:
    version = VERSION
    rounds = 1

    def setup(self):
        rng = np.random.default_rng(0)
        self.a = rng.uniform(-1, 1, (SIZE, SIZE)).astype(np.float32)
        self.b = rng.uniform(-1, 1, (SIZE, SIZE)).astype(np.float32)

    def track_numpy_sgemm_gflops(self):
        return 2 * SIZE**3 / median_seconds(lambda: self.a @ self.b, repeats=5) / 1e9

    track_numpy_sgemm_gflops.unit = "GFLOP/s"

    def track_torch_sgemm_gflops(self):
        a, b = torch.from_numpy(self.a), torch.from_numpy(self.b)
        return 2 * SIZE**3 / median_seconds(lambda: torch.mm(a, b), repeats=5) / 1e9

    track_torch_sgemm_gflops.unit = "GFLOP/s"

    def track_algorithms_sgemm_gflops(self):
        """The same product on the engine our algorithms' GEMMs run on (algorithms/blas.py)."""
        from convbench.algorithms import blas

        a, b = torch.from_numpy(self.a), torch.from_numpy(self.b)
        out = torch.empty(SIZE, SIZE)
        return 2 * SIZE**3 / median_seconds(lambda: blas.product(a, b, out), repeats=5) / 1e9

    track_algorithms_sgemm_gflops.unit = "GFLOP/s"

    def track_fma_peak_gflops(self):
        """The cores' fp32 FMA throughput (convbench.measure.fma_peak): the roofline's compute ceiling."""
        from convbench.measure.fma_peak import fma_peak_flops

        return max(fma_peak_flops().values()) / 1e9

    track_fma_peak_gflops.unit = "GFLOP/s"


class Copy:
    version = VERSION
    rounds = 1

    def setup(self):
        self.source = np.random.default_rng(0).uniform(-1, 1, COPY_BYTES // 4).astype(np.float32)
        self.target = np.empty_like(self.source)

    def track_copy_gbps(self):
        """A 64 MiB float32 copy, read plus write bytes over its time (convbench.measure.roofline's ceiling)."""
        return 2 * COPY_BYTES / median_seconds(lambda: np.copyto(self.target, self.source), repeats=5) / 1e9

    track_copy_gbps.unit = "GB/s"
