"""convbench: direct, Winograd and band-limited FFT convolution, interchangeable and measured."""
from .api import ConvError, ConvSpec, algorithms, conv2d, plan, retained_energy

__all__ = ["ConvError", "ConvSpec", "algorithms", "conv2d", "plan", "retained_energy"]
__version__ = "0.1.0"
