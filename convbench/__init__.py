"""convbench: direct, Winograd and band-limited FFT convolution, interchangeable and measured.

The layers, each importing only those below it:
  core             spec, errors, arrays (ConvSpec, ConvError, array checks)
  implementations  convbench.algorithms (the repository's algorithms/ folder)
  harness          registry, api, measure, oracle, signals, layers, recommend, targets, results
  top              cli, plot (and the asv suites, outside the package)
Importing convbench loads only the core; the API loads on first use, so that
`import convbench.algorithms.fft.bandlimit` (or any module) works first.
"""
from .threads import quiet_thread_pools

quiet_thread_pools()  # before numpy and torch start their thread pools (see threads.py)

from .errors import ConvError  # noqa: E402
from .spec import ConvSpec  # noqa: E402

__all__ = ["ConvError", "ConvSpec", "conv2d", "implementations", "plan", "retained_energy"]
__version__ = "0.1.0"

_API = {"conv2d", "implementations", "plan", "retained_energy"}


def __getattr__(name):
    if name in _API:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'convbench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _API)
