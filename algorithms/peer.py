"""The peer: torch.nn.functional.conv2d (oneDNN on the CPU)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from convbench.arrays import output_buffer

from .base import Plan


class TorchCPU(Plan):
    algorithm = "torch"
    backend = "cpu"

    def __call__(self, x, w=None, out=None):
        x, w = self.check_inputs(x, self._fixed_weights() if w is None else w)
        with torch.no_grad():
            y = F.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                         padding=self.spec.padding, stride=self.spec.stride).numpy()
        if out is None:  # hand back torch's own buffer: copying would bill the peer for our API
            return y
        out = output_buffer(out, self.spec.output_shape)
        out[...] = y
        return out
