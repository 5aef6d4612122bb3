"""Which algorithm wins as the filter grows? The crossover question.

Fixed input (N=2, C=K=32, 'same' padding so every filter size gives the same
output), filter sizes 1..31 at two input sizes. Winograd runs only at 3x3.
"""
import convbench

from .common import ALGORITHMS, BACKENDS, _ConvCase, pick


class FilterSize(_ConvCase):
    params = [ALGORITHMS, BACKENDS, pick([32, 64], [32]), pick([1, 3, 5, 7, 9, 11, 15, 21, 31], [3, 7, 15])]
    param_names = ["algorithm", "backend", "input", "filter"]

    def case(self, algorithm, backend, size, k):
        spec = convbench.ConvSpec(N=2, C=32, H=size, W=size, K=32, R=k, S=k, padding=k // 2)
        return spec, algorithm, backend, 0.0
