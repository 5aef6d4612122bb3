"""convbench: direct, Winograd and band-limited FFT convolution, interchangeable and measured."""
from .threads import quiet_thread_pools

quiet_thread_pools()  # before numpy and torch start their thread pools (see threads.py)

from .api import ConvError, ConvSpec, algorithms, conv2d, plan, retained_energy  # noqa: E402

__all__ = ["ConvError", "ConvSpec", "algorithms", "conv2d", "plan", "retained_energy"]
__version__ = "0.1.0"
