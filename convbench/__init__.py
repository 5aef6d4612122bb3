"""convbench: direct, Winograd and band-limited FFT convolution, interchangeable and measured.

"The proposal" in its documentation is the science it measures: the thesis proposal "Input and
Model Compression for Adaptive and Robust CNNs" (A. Dziedzic, 2019).

Its layers are its folders (core, interface, nn, workloads, measure, report, cli.py on top),
listed once, with what each holds, in convbench.core.layering. Importing convbench loads only
the core; the API loads on first use, so that
`import convbench.algorithms.fft.bandlimit` (or any module) works first.
"""
from convbench.core.threads import quiet_thread_pools

quiet_thread_pools()  # before numpy and torch start their thread pools (see threads.py)

from convbench.core.errors import ConvError  # noqa: E402
from convbench.core.signal import SignalSpec  # noqa: E402
from convbench.core.spec import ConvSpec  # noqa: E402

__all__ = ["ConvError", "ConvSpec", "SignalSpec", "conv1d", "conv2d", "implementations", "plan", "retained_energy"]
__version__ = "0.1.0"

_API = {"conv1d", "conv2d", "implementations", "plan", "retained_energy"}


def __getattr__(name):
    if name in _API:
        from convbench.interface import api
        return getattr(api, name)
    raise AttributeError(f"module 'convbench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _API)
