"""What does band-limiting buy, and what does it cost? fft at c in {0 .. 0.9} on real layers.

Time, memory and GFLOP/s as everywhere, plus the price: relative L2 error
against the float64 oracle, the fraction of the input's spectral energy kept
(Parseval), and the compression actually achieved. Error and energy are
tracked three times: on the uniform white noise every suite uses (the worst
case: a flat spectrum), on inputs with a natural image's 1/f^2 spectrum, and
on crops of real photographs (convbench.workloads.photographs).
"""
import numpy as np

from convbench.core.errors import ConvError
from convbench.workloads import photographs, random_inputs
from convbench.workloads.layers import layer
from convbench.core.oracle import reference_for, relative_error

from .common import BACKENDS, _ConvCase, pick

LAYERS = pick(["L1", "L2", "L4", "googlenet-5x5", "resnet18-conv2"], ["L4"])
RATES = pick([0.0, 0.1, 0.25, 0.5, 0.75, 0.9], [0.0, 0.5, 0.9])


class Compression(_ConvCase):
    params = [LAYERS, BACKENDS, RATES]
    param_names = ["layer", "backend", "compression"]

    def case(self, name, backend, compression):
        return layer(name).spec, "fft", backend, compression

    def _error(self, x):
        # host arrays in, a host array out, on every backend
        w = self.w_host
        return relative_error(self.plan(x, w), reference_for(self.spec, x, w))

    def _natural(self):
        return random_inputs.natural(np.random.default_rng(1), self.spec.input_shape)

    def _photographs(self):
        try:
            return photographs.photographs(np.random.default_rng(1), self.spec.input_shape)
        except ConvError as err:  # scikit-learn, which holds them, is not installed: n/a
            raise NotImplementedError(str(err)) from err

    def track_relative_error(self, *params):
        return self._error(self.x_host)

    track_relative_error.unit = "relative L2 error"

    def track_relative_error_natural(self, *params):
        return self._error(self._natural())

    track_relative_error_natural.unit = "relative L2 error"

    def track_relative_error_photographs(self, *params):
        return self._error(self._photographs())

    track_relative_error_photographs.unit = "relative L2 error"

    def track_retained_energy(self, *params):
        return self.plan.retained_energy(self.x_host)

    track_retained_energy.unit = "fraction of input energy"

    def track_retained_energy_natural(self, *params):
        return self.plan.retained_energy(self._natural())

    track_retained_energy_natural.unit = "fraction of input energy"

    def track_retained_energy_photographs(self, *params):
        return self.plan.retained_energy(self._photographs())

    track_retained_energy_photographs.unit = "fraction of input energy"

    def track_achieved_compression(self, *params):
        return self.plan.compression

    track_achieved_compression.unit = "fraction of coefficients dropped"
