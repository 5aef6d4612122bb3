"""The machine's own yardstick: measured sgemm throughput, for the GFLOP/s charts' peak line."""
import numpy as np
import torch

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
