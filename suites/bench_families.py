"""FFT or Winograd? Time of every variant against the channel count, at two input sizes.

The filter-size axis of the same question is bench_filter_size.py; together
they are Zlateski et al.'s comparison on this machine. 3x3 filters (where every
Winograd tile applies), C = K, N=4, padding 1.
"""
import convbench

from .common import ALGORITHMS, BACKENDS, _ConvCase, pick


class Channels(_ConvCase):
    params = [ALGORITHMS, BACKENDS, pick([28, 56], [28]), pick([16, 32, 64, 128, 256], [32])]
    param_names = ["algorithm", "backend", "input", "channels"]

    def case(self, algorithm, backend, size, channels):
        spec = convbench.ConvSpec(N=4, C=channels, H=size, W=size, K=channels, R=3, S=3, padding=1)
        return spec, algorithm, backend, 0.0

    # time only: this suite is the time axis of a chart; memory and GFLOP/s are the layer suite's
    peakmem_conv = None
    track_workspace = None
    track_gflops = None
