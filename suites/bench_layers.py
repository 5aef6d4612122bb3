"""Real network layers: convnet-benchmarks L1-L5, ResNet-18's 3x3 layers, a DeepBench subset.

Batches are scaled down from the sources (see convbench/workloads/layers.py, which keeps
each source batch next to the one run here).
"""
from convbench.workloads.layers import ALL_LAYERS, CONVNET_BENCHMARKS, layer
from convbench.core.oracle import reference_for, relative_error

from .common import ALGORITHMS, BACKENDS, _ConvCase, pick

NAMES = pick(list(ALL_LAYERS), [CONVNET_BENCHMARKS[3].name, "resnet18-conv4", "googlenet-5x5"])  # quick: 7x7, 3x3, 5x5


class Layers(_ConvCase):
    params = [NAMES, ALGORITHMS, BACKENDS]
    param_names = ["layer", "algorithm", "backend"]

    def case(self, name, algorithm, backend):
        return layer(name).spec, algorithm, backend, 0.0

    def track_relative_error(self, *params):
        """Relative L2 error against the float64 oracle, per variant: the price of the bigger tiles."""
        x, w = self.x_host, self.w_host
        return relative_error(self.plan(x, w), reference_for(self.spec, x, w))

    track_relative_error.unit = "relative L2 error"
