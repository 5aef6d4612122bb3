"""Winograd F(2x2, 3x3) on the CPU: Numba transforms around 16 BLAS matrix products."""
from __future__ import annotations

import numpy as np

from convbench.errors import ConvError

from ..base import StagedPlan
from ..blas import matmul
from ..padding import embed, padded_buffer
from .transforms import filter_transform, input_transform, output_transform


def winograd_supports(spec) -> bool:
    return (spec.R, spec.S) == (3, 3) and spec.stride == (1, 1)


def check_winograd_spec(spec) -> None:
    if not winograd_supports(spec):
        raise ConvError(f"algorithm='winograd': Winograd F(2x2,3x3) needs a 3x3 filter and stride 1; "
                        f"got w filter {spec.R}x{spec.S} and stride {spec.stride}")


class WinogradCPU(StagedPlan):
    """Stages, each a method so it can be timed alone:
    filter transform G g G^T -> input transform B^T d B -> 16 (K x C)(C x T) GEMMs -> output transform A^T m A.
    """

    algorithm = "winograd"
    backend = "cpu"
    supports = classmethod(lambda cls, spec: winograd_supports(spec))

    def __init__(self, spec):
        check_winograd_spec(spec)
        super().__init__(spec)
        self.tiles_h = -(-spec.P // 2)
        self.tiles_w = -(-spec.Q // 2)
        tiles = spec.N * self.tiles_h * self.tiles_w
        # an odd P or Q needs one more zero row or column so the last tile is whole
        self._padded = padded_buffer((spec.N, spec.C), 2 * self.tiles_h + 2, 2 * self.tiles_w + 2)
        self._V = np.empty((16, spec.C, tiles), dtype=np.float32)
        self._M = np.empty((16, spec.K, tiles), dtype=np.float32)
        self._U = np.empty((16, spec.K, spec.C), dtype=np.float32)
        self._strips = np.empty((spec.N * spec.C, 4, self._padded.shape[3]), dtype=np.float32)

    def transform_filter(self, w):
        return filter_transform(w, self._U)

    def transform_input(self, x):
        embed(x, self._padded, self.spec.pad_h, self.spec.pad_w)
        input_transform(self._padded, self._V, self.tiles_h, self.tiles_w, self._strips)

    def contract(self, U):
        matmul(U, self._V, out=self._M)

    def transform_output(self, out):
        output_transform(self._M, out, self.tiles_h, self.tiles_w)
