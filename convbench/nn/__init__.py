"""convbench in torch: autograd-aware conv1d / conv2d, Conv1d / Conv2d modules whose passes run
convbench's algorithms, and convert(), which swaps them into a model.

    y = convbench.nn.functional.conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1,
                                       algorithm="fft", compression=0.0)
    layer = convbench.nn.Conv2d(in_channels, out_channels, kernel_size, algorithm="fft", compression=0.5)
    model = convbench.nn.convert(torchvision.models.resnet18(), algorithm="fft", compression=0.5)

Torch tensors (CPU) in and out; torch's arguments, padding='same' and 'valid' and the padding
modes included. float32 runs the planned algorithm: the forward pass, and its backward_data /
backward_filter for the gradients. float64 runs the algorithm's float64 definition (the oracle,
or for fft the band-limited masked-spectrum convolution and its exact adjoints), so that
torch.autograd.gradcheck can check the mathematics of the gradients.
"""
from . import functional
from .convert import convert
from .modules import Conv1d, Conv2d

__all__ = ["Conv1d", "Conv2d", "convert", "functional"]
