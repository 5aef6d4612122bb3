"""Band-limited FFT convolution on the CPU: pruned DFTs (BLAS) or pyFFTW, by size.

Padding, then transform, then contraction, then inverse, then crop:

1. transform the padded input and the filters onto the Lh x Lw grid's retained
   block only, one matrix per frequency: X[f] (N x C), W[f] (C x K). Either a
   pruned matrix DFT of the data's support (dft.py; the filter always, input
   on grids up to 128), or FFTW: an rfft along the rows that hold data, a
   complex FFT down the retained columns, and a gather of the retained rows;
2. conjugate the filter spectrum (cross-correlation, not convolution) and
   contract over channels at each retained frequency: Y[f] = X[f] @ conj(W[f]);
3. the inverse, evaluated only at the rows and columns the stride keeps:
   a pruned inverse DFT on grids up to 128, else FFTW down the retained
   columns and along the kept rows.

Only retained frequencies are contracted and stored (X, W, Y); the DFT paths
also transform only those, the FFTW row pass computes every column of the data rows.
A stride > 1 subsamples the stride-1 output: the spectra are those of the full
correlation, and the inverse is evaluated only on the rows and columns kept.
"""
from __future__ import annotations

import numpy as np

from convbench.errors import ConvError
from convbench.selection import FILTER_TRANSFORM, fft_transform

from ..base import StagedPlan
from ..scratch import Scratch
from . import adjoint, wisdom
from .bandlimit import Band, BandLimited, check_compression, fft_grid
from .contract import stream_contract
from .stages import FilterStage, InputStage, OutputStage


class FFTCPU(BandLimited, StagedPlan):
    """Band-limited FFT convolution on the CPU: three transform stages (stages.py) around the contraction.

    The plain float64 definition this computes, in one short function, is
    convbench.algorithms.fft.reference.masked_spectrum_conv.
    """

    algorithm = "fft"
    backend = "cpu"

    def __init__(self, spec, compression=0.0, planner_effort=None, threads=None, filter_transform=None,
                 input_transform=None, output_transform=None):
        super().__init__(spec)
        planner_effort = planner_effort or wisdom.default_effort()
        if planner_effort not in wisdom.EFFORTS:
            raise ConvError(f"planner_effort must be one of {', '.join(wisdom.EFFORTS)}; got {planner_effort!r}")
        self.fft_shape = fft_grid(spec)
        self.band = Band(self.fft_shape, check_compression(compression))
        self.compression = self.band.compression
        # the defaults and their measurements: convbench.selection
        self.input_transform = input_transform or fft_transform(self.fft_shape)
        self.filter_transform = filter_transform or FILTER_TRANSFORM
        self.output_transform = output_transform or fft_transform(self.fft_shape)
        kinds = (self.input_transform, self.filter_transform, self.output_transform)
        uses_fftw = "fft" in kinds
        if uses_fftw:
            wisdom.load()
        # One FFTW thread by default: these batched transforms are small, and FFTW
        # starting and joining its threads on every execute cost more than they
        # gave (7x7 layer, N=8 C=K=64 56x56, 2 cores: 90 ms a call with 2 threads, 58 ms with 1).
        fftw = ((planner_effort,), threads or 1)
        self._scratch = Scratch()  # the DFT stages take turns with two shared temporaries
        self._input = InputStage(self.input_transform, spec, self.band, self._scratch, fftw)
        self._filter = FilterStage(self.filter_transform, spec, self.band, self._scratch, fftw)
        self._output = OutputStage(self.output_transform, spec, self.band, self._scratch, fftw)
        self._Y = np.empty((self.band.retained, spec.N, spec.K), dtype=np.complex64)
        self._scratch.allocate()  # now, so that the plan's memory is all there (and measured) once it is built
        if uses_fftw and planner_effort != "FFTW_ESTIMATE":
            wisdom.save()

    @property
    def spectral_mask(self) -> np.ndarray:
        """Boolean (Lh, Lw//2 + 1): True where the one-sided spectrum is kept."""
        return self.band.mask

    # The training passes: the exact adjoints of the band-limited map (adjoint.py has the derivation).
    def _backward_data(self, dy, w):
        return adjoint.backward_data(dy, w, self.spec, self.fft_shape, self.band.mask)

    def _backward_filter(self, x, dy):
        return adjoint.backward_filter(x, dy, self.spec, self.fft_shape, self.band.mask)

    def transform_filter(self, w) -> np.ndarray:
        """conj(F_w) / (Lh*Lw) on the retained block, as (F, C, K), in the plan's own buffers."""
        return self._filter(w)

    def transform_input(self, x) -> None:
        self._input(x)

    def contract(self, Wt) -> None:
        stream_contract(self._input.X, Wt, self._Y)

    def transform_output(self, out) -> None:
        self._output(self._Y, out)
