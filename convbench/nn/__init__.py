"""convbench in torch: an autograd-aware conv2d and a Conv2d module whose passes run convbench's algorithms.

    y = convbench.nn.functional.conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1,
                                       algorithm="fft", compression=0.0)
    layer = convbench.nn.Conv2d(in_channels, out_channels, kernel_size, algorithm="fft", compression=0.5)

Torch tensors (CPU) in and out. float32 runs the planned algorithm: the forward
pass, and its backward_data / backward_filter for the gradients. float64 runs
the algorithm's float64 definition (the oracle, or for fft the band-limited
masked-spectrum convolution and its exact adjoints), so that
torch.autograd.gradcheck can check the mathematics of the gradients.
"""
from . import functional
from .modules import Conv2d

__all__ = ["Conv2d", "functional"]
