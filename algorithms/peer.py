"""The peer: torch.nn.functional.conv2d (oneDNN on the CPU, cuDNN on the GPU)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from convbench.core.arrays import output_buffer

from .base import Plan
from .gpu import CudaPlan, as_tensor, empty, fill, wrap


def conv_parameters(spec) -> dict:
    """The spec's padding, stride, dilation and groups as torch's conv2d and its gradients take them."""
    return dict(padding=spec.padding, stride=spec.stride, dilation=spec.dilation, groups=spec.groups)


class TorchCPU(Plan):
    algorithm = "torch"
    backend = "cpu"
    takes_groups = takes_dilation = True

    def __call__(self, x, w=None, out=None, *, for_backward=False):  # it keeps what its backward reads
        given = x, w
        x, w = self.check_inputs(x, self._fixed_weights() if w is None else w)
        with torch.no_grad():
            y = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), **conv_parameters(self.spec)).numpy()
        self._remember_forward(*given)
        if out is None:  # hand back torch's own buffer: copying would bill the peer for our API
            return y
        out = output_buffer(out, self.spec.output_shape)
        out[...] = y
        return out


    def _backward_data(self, dy, w, reuse_forward=False):
        with torch.no_grad():
            return torch.nn.grad.conv2d_input(self.spec.input_shape, torch.from_numpy(w), torch.from_numpy(dy),
                                              **conv_parameters(self.spec)).numpy()

    def _backward_filter(self, x, dy, reuse_forward=False):
        with torch.no_grad():
            return torch.nn.grad.conv2d_weight(torch.from_numpy(x), self.spec.filter_shape, torch.from_numpy(dy),
                                               **conv_parameters(self.spec)).numpy()


class TorchCUDA(CudaPlan):
    """cuDNN through torch, with cudnn.benchmark on: the first call at a shape
    (made when the plan is built) picks cuDNN's fastest algorithm, as a user
    who cares about speed would have it.

    tf32=False (the default) keeps cuDNN in float32 arithmetic, the semantics
    every algorithm here is held to (relative error ~1e-7 against the float64
    oracle). torch's own default, torch.backends.cudnn.allow_tf32 = True, lets
    cuDNN round the operands to TF32 (10-bit mantissa, relative error ~1e-4)
    on the tensor cores: tf32=True times that, the number a user who keeps
    torch's defaults sees. The flag is set around each call only, so the
    plan changes nothing in the user's torch.
    """

    algorithm = "torch"
    takes_groups = takes_dilation = True

    def __init__(self, spec, tf32: bool = False):
        super().__init__(spec)
        self.tf32 = bool(tf32)
        warm = empty(spec.input_shape), empty(spec.filter_shape)
        for array in warm:
            fill(array, 1.0)
        self.compute(*warm)

    def _on_cudnn(self, function, *args):
        """function(*args) with cudnn.benchmark on and TF32 as the plan was built, no autograd."""
        cudnn = torch.backends.cudnn
        saved = cudnn.benchmark, cudnn.allow_tf32
        cudnn.benchmark, cudnn.allow_tf32 = True, self.tf32
        try:
            with torch.no_grad():
                return function(*args, **conv_parameters(self.spec))
        finally:
            cudnn.benchmark, cudnn.allow_tf32 = saved

    def compute(self, x, w, out=None):
        result = self._on_cudnn(F.conv2d, as_tensor(x), as_tensor(w))
        if out is None:  # torch's own buffer: copying would bill the peer for our API
            return wrap(result)
        as_tensor(out).copy_(result)
        return out

    # the training passes: cuDNN's own, as torch's autograd runs them
    def _backward_data_device(self, dy, w):
        return wrap(self._on_cudnn(torch.nn.grad.conv2d_input, self.spec.input_shape, as_tensor(w),
                                   as_tensor(dy)).contiguous())

    def _backward_filter_device(self, x, dy):
        return wrap(self._on_cudnn(torch.nn.grad.conv2d_weight, as_tensor(x), self.spec.filter_shape,
                                   as_tensor(dy)).contiguous())


class TorchSignalCPU(TorchCPU):
    """The 1-D peer: torch.nn.functional.conv1d (oneDNN) and its gradients, on a height-1 ConvSpec
    (convbench.core.signal.SignalSpec.grid), arrays (N, C, 1, L)."""

    def _parameters(self) -> dict:
        spec = self.spec
        return dict(padding=spec.pad_w, stride=spec.stride_w, dilation=spec.dil_w, groups=spec.groups)

    def __call__(self, x, w=None, out=None, *, for_backward=False):  # it keeps what its backward reads
        given = x, w
        x, w = self.check_inputs(x, self._fixed_weights() if w is None else w)
        with torch.no_grad():
            y = F.conv1d(torch.from_numpy(x[:, :, 0]), torch.from_numpy(w[:, :, 0]), **self._parameters())
        self._remember_forward(*given)
        y = y.numpy()[:, :, None, :]
        if out is None:
            return y
        out = output_buffer(out, self.spec.output_shape)
        out[...] = y
        return out

    def _backward_data(self, dy, w, reuse_forward=False):
        N, C, _, L = self.spec.input_shape
        with torch.no_grad():
            return torch.nn.grad.conv1d_input((N, C, L), torch.from_numpy(w[:, :, 0]), torch.from_numpy(dy[:, :, 0]),
                                              **self._parameters()).numpy()[:, :, None, :]

    def _backward_filter(self, x, dy, reuse_forward=False):
        K, Cg, _, R = self.spec.filter_shape
        with torch.no_grad():
            return torch.nn.grad.conv1d_weight(torch.from_numpy(x[:, :, 0]), (K, Cg, R), torch.from_numpy(dy[:, :, 0]),
                                               **self._parameters()).numpy()[:, :, None, :]
