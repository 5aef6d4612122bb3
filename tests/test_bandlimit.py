"""Band-limited FFT convolution: the mask M_c, the masked-spectrum definition, energy."""
import numpy as np
import pytest

import convbench
from convbench.workloads import random_inputs
from convbench.algorithms.fft.bandlimit import Band, hermitian_weights, next_fast_len
from convbench.algorithms.fft.reference import masked_spectrum_conv
from convbench.core.oracle import reference_conv2d, relative_error
from convbench.workloads.random_inputs import random_problem
from error_budget import assert_matches_oracle, budget, forward_references, rounding_units

RATES = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9]
GRIDS = [(16, 16), (15, 21), (28, 9), (1, 1), (2, 7)]


def signed(n):
    return np.rint(np.fft.fftfreq(n) * n).astype(int)


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("compression", RATES)
def test_mask_keeps_dc_and_is_symmetric_in_row_frequency(grid, compression):
    mask = Band(grid, compression).mask
    assert mask.shape == (grid[0], grid[1] // 2 + 1)
    assert mask[0, 0]
    u = signed(grid[0])
    for i in range(grid[0]):
        j = int(np.flatnonzero(u == -u[i])[0]) if -u[i] in u else i  # the Nyquist row is its own negative
        np.testing.assert_array_equal(mask[i], mask[j])


def test_compression_zero_keeps_every_coefficient_on_every_grid_side():
    """Every side up to 1024, as the FFT grids of real layers come: at c = 0 nothing is dropped (the
    rows' signed frequencies once came from floats, and 98 or 196 rows lost their Nyquist row)."""
    lost = [n for n in range(1, 1025) if not Band((n, n), 0.0).mask.all()]
    assert lost == []


@pytest.mark.parametrize("grid", GRIDS)
def test_masks_are_nested(grid):
    masks = [Band(grid, c).mask for c in RATES]
    for looser, tighter in zip(masks, masks[1:]):
        assert not (tighter & ~looser).any(), "a larger compression kept a coefficient a smaller one dropped"


@pytest.mark.parametrize("grid", [(16, 16), (57, 64), (30, 45), (63, 63), (128, 128), (9, 9)])
def test_achieved_compression_is_reported_and_close_to_requested(grid):
    assert Band(grid, 0.0).compression == 0.0 and Band(grid, 0.0).mask.all()
    for c in RATES[1:]:
        band = Band(grid, c)
        assert band.compression == pytest.approx(1 - band.mask.sum() / band.mask.size)
        # integer sides: the kept rows are within 1 of s*Lh and the kept columns within
        # 2*Wc/Lw of s*Wc (s = sqrt(1 - c)), which bounds the achieved rate's deviation
        Lh, Lw = grid
        assert abs(band.compression - c) <= 1 / Lh + 2 / Lw + 2 / (Lh * Lw), (c, band.compression)
    # more compression requested never gives less achieved
    achieved = [Band(grid, c).compression for c in RATES]
    assert achieved == sorted(achieved)


@pytest.mark.parametrize("grid", [(16, 16), (15, 21), (63, 63), (57, 64), (2, 7), (1, 1)])
@pytest.mark.parametrize("compression", RATES)
def test_mask_is_the_readme_formula(grid, compression):
    """The band-limit mask (docs/content/design/band-limit.md): keep (u, v) iff 2|u| <= s*Lh and 2v <= s*Lw, s = sqrt(1 - c), u the signed row
    frequency (|u| = min(r, Lh - r) for row r), v the one-sided column; computed here afresh."""
    np.testing.assert_array_equal(Band(grid, compression).mask, readme_mask(grid, compression))


def readme_mask(grid, compression):
    Lh, Lw = grid
    s = (1 - compression) ** 0.5
    u = np.array([min(r, Lh - r) for r in range(Lh)])
    v = np.arange(Lw // 2 + 1)
    return (2 * u <= s * Lh)[:, None] & (2 * v <= s * Lw)[None, :]


def test_next_fast_len():
    assert [next_fast_len(n) for n in (1, 11, 13, 17, 56, 62, 97)] == [1, 12, 14, 18, 56, 63, 98]


SPECS = [
    convbench.ConvSpec(N=2, C=3, H=16, W=16, K=4, R=5, S=5, padding=2),
    convbench.ConvSpec(N=1, C=2, H=19, W=12, K=3, R=3, S=7, padding=(1, 3), stride=(2, 1)),
    convbench.ConvSpec(N=2, C=4, H=14, W=15, K=2, R=7, S=7),
]


TRANSFORMS = [("fft", "fft", "fft"), ("dft", "dft", "dft"), ("fft", "dft", "fft"), ("dft", "fft", "dft")]


@pytest.mark.parametrize("transforms", TRANSFORMS, ids="-".join)
@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize("compression", RATES)
def test_fft_output_equals_the_masked_spectrum_definition(rng, spec, compression, transforms):
    """Every way of computing the transforms (FFTW or pruned matrix DFT, for the
    filter, the input and the output) gives the proposal's masked-spectrum convolution."""
    x, w = random_problem(spec, rng)
    filter_t, input_t, output_t = transforms
    plan = convbench.plan(spec, "fft", compression=compression, filter_transform=filter_t,
                          input_transform=input_t, output_transform=output_t)
    expected = masked_spectrum_conv(x, w, spec, plan.fft_shape, readme_mask(plan.fft_shape, compression))
    got = plan(x, w)
    assert rounding_units(got, expected, forward_references(spec, x, w)[1]) <= budget("fft")
    if compression == 0.0:
        assert plan.compression == 0.0
        assert_matches_oracle("fft", spec, x, w, got)
    else:
        assert plan.compression > 0.0


def test_fft_grid_is_the_smallest_fast_size_that_is_exact():
    spec = convbench.ConvSpec(N=1, C=1, H=56, W=56, K=1, R=7, S=7, padding=3)
    assert convbench.plan(spec, "fft").fft_shape == (63, 63)  # padded 62 -> 63 = 3^2 * 7


def test_error_grows_with_compression_on_smooth_inputs(rng):
    spec = convbench.ConvSpec(N=2, C=3, H=32, W=32, K=4, R=5, S=5, padding=2)
    x = random_inputs.natural(rng, spec.input_shape)
    w = rng.uniform(-1, 1, spec.filter_shape).astype(np.float32)
    reference = reference_conv2d(x, w, spec.padding)
    rates = [0, 0.25, 0.5, 0.75, 0.9]
    errors = [relative_error(convbench.conv2d(x, w, "fft", padding=2, compression=c), reference) for c in rates]
    assert errors[0] < 1e-5
    assert all(a < b for a, b in zip(errors, errors[1:])), errors
    # natural-image-like inputs keep most energy at low frequency: at every rate they lose less than
    # white noise (flat spectrum) through the same mask
    white = random_inputs.uniform(rng, spec.input_shape)
    white_reference = reference_conv2d(white, w, spec.padding)
    for c, error in zip(rates[1:], errors[1:]):
        white_error = relative_error(convbench.conv2d(white, w, "fft", padding=2, compression=c), white_reference)
        assert error < 0.8 * white_error, (c, error, white_error)


def test_natural_inputs_keep_more_energy_than_white_noise(rng):
    spec = convbench.ConvSpec(N=2, C=3, H=32, W=32, K=1, R=5, S=5, padding=2)
    plan = convbench.plan(spec, "fft", compression=0.5)
    natural = plan.retained_energy(random_inputs.natural(rng, spec.input_shape))
    white = plan.retained_energy(random_inputs.uniform(rng, spec.input_shape))
    assert 0.35 < white < 0.65  # flat spectrum: about the retained fraction
    assert natural > 0.8 and natural > white + 0.3


def test_retained_energy_matches_parseval(rng):
    spec = convbench.ConvSpec(N=2, C=3, H=20, W=17, K=1, R=3, S=4, padding=1)
    x = rng.uniform(-1, 1, spec.input_shape)
    for c in RATES:
        plan = convbench.plan(spec, "fft", compression=c)
        Lh, Lw = plan.fft_shape
        grid = np.zeros((spec.N, spec.C, Lh, Lw))
        grid[:, :, 1:1 + spec.H, 1:1 + spec.W] = x
        spectrum = np.fft.rfft2(grid)
        # Parseval on the one-sided spectrum: interior columns count twice
        assert np.sum(np.abs(spectrum) ** 2 * hermitian_weights(Lw)) / (Lh * Lw) == pytest.approx(np.sum(x ** 2))
        lowpass = np.fft.irfft2(spectrum * plan.spectral_mask, s=(Lh, Lw))  # the band-limited signal
        expected = np.sum(lowpass ** 2) / np.sum(grid ** 2)
        assert plan.retained_energy(x) == pytest.approx(expected, rel=1e-9)
        assert convbench.retained_energy(x, spec, c) == pytest.approx(expected, rel=1e-6)
    assert convbench.retained_energy(x, spec, 0.0) == pytest.approx(1.0)


def test_compression_shrinks_the_stored_spectra():
    spec = convbench.ConvSpec(N=2, C=8, H=32, W=32, K=8, R=7, S=7, padding=3)
    full, half = convbench.plan(spec, "fft", compression=0.0), convbench.plan(spec, "fft", compression=0.5)
    for stored in (lambda plan: plan._input.X, lambda plan: plan._Y):
        ratio = stored(half).nbytes / stored(full).nbytes
        assert ratio == pytest.approx(1 - half.compression, abs=1e-9)
        assert ratio < 0.6
