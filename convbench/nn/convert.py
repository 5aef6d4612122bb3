"""convert(model): every torch.nn.Conv1d and Conv2d of a model swapped for convbench's layer,
weights, bias and arguments kept, so that one line band-limits a torchvision or timm model."""
from __future__ import annotations

import copy
import warnings

import torch

from .modules import Conv1d, Conv2d

SWAPS = {torch.nn.Conv1d: Conv1d, torch.nn.Conv2d: Conv2d}


def convert(model: torch.nn.Module, algorithm: str = "fft", compression: float = 0.0, inplace: bool = False,
            **options) -> torch.nn.Module:
    """The model (a copy unless inplace) with each nn.Conv1d / nn.Conv2d replaced by convbench.nn's
    layer running `algorithm` ('auto' included for 2-D) at `compression`, with the same weight and
    bias Parameters' values, stride, padding ('same' and 'valid' too), dilation, groups and
    padding_mode. A subclass of those (timm's Conv2dSame, which pads in its own forward) is left
    as it is, and named in a warning: its forward is not torch's conv, so swapping it would change
    what the model computes."""
    model = model if inplace else copy.deepcopy(model)
    kept = []
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            swap = SWAPS.get(type(child))
            if swap is None:
                if isinstance(child, tuple(SWAPS)):
                    kept.append(f"{name}.{child_name}".lstrip(".") + f" ({type(child).__name__})")
                continue
            layer = swap(child.in_channels, child.out_channels, child.kernel_size, stride=child.stride,
                         padding=child.padding, dilation=child.dilation, groups=child.groups,
                         bias=child.bias is not None, padding_mode=child.padding_mode, algorithm=algorithm,
                         compression=compression, **options)
            with torch.no_grad():
                layer.weight.copy_(child.weight)
                if child.bias is not None:
                    layer.bias.copy_(child.bias)
            layer.train(child.training)
            setattr(module, child_name, layer)
    if kept:
        warnings.warn(f"convbench.nn.convert left {len(kept)} convolution subclass(es) as they are: "
                      f"{', '.join(kept[:5])}{' ...' if len(kept) > 5 else ''}", stacklevel=2)
    return model
