"""A 1x1 filter at stride 1 without padding or groups: one GEMM per image, in NCHW as it stands.

Each image's output is w (K x C) times the image (C x H·W): nothing to pad, shift or stack, and no
layout change on either side, where the other methods copy the input into a padded buffer and the
result back to NCHW. All N products are one batched GEMM on the GEMMs' pool (blas.product). On small images
each product is thin, and the channel-major path, which runs the N images as one wide GEMM, wins
(convbench.core.selection.PER_IMAGE_POSITIONS_FROM, with its measurement in the record).
"""
from __future__ import annotations

import torch

from ..blas import product


class PerImageGemm:
    """__call__(x, w, out) for one 1x1 spec: out[n] = w[:, :, 0, 0] @ x[n], viewed (C, H·W)."""

    def __init__(self, spec):
        self.spec = spec

    def __call__(self, x, w, out):
        N, C, K = self.spec.N, self.spec.C, self.spec.K
        product(torch.from_numpy(w).reshape(K, C), torch.from_numpy(x).view(N, C, -1),
                torch.from_numpy(out).view(N, K, -1))
