"""How does time scale with the input? H = W from 16 to 256, filters 3, 7 and about H/2.

N=1, C=K=8 and no padding, so that the direct algorithm's largest case
(256x256 with a 128x128 filter, 35 GFLOP) still fits a 2-core machine.
"""
import convbench

from .common import ALGORITHMS, BACKENDS, _ConvCase, pick


class InputSize(_ConvCase):
    params = [ALGORITHMS, BACKENDS, pick([16, 32, 64, 128, 256], [32, 64]),
              pick(["3", "7", "H/2"], ["3", "H/2"])]  # quick: a small and an image-sized filter
    param_names = ["algorithm", "backend", "input", "filter"]

    def case(self, algorithm, backend, size, filt):
        k = size // 2 if filt == "H/2" else int(filt)
        spec = convbench.ConvSpec(N=1, C=8, H=size, W=size, K=8, R=k, S=k)
        return spec, algorithm, backend, 0.0
