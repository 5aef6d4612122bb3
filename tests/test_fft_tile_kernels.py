"""The tiled FFT's generated transforms: the straight-line codelets against numpy's FFTs, the kernels
against rfft2 (irfft2) of the tiles they cut (assemble), and the kernels file against its generator."""
import numpy as np
import pytest

from convbench.algorithms.fft import codelets, tile_codegen, tile_kernels
from convbench.core import selection


def _evaluate(code: codelets.Codelet, inputs: dict) -> dict:
    """The codelet's statements run on float64 values: every name's value."""
    values = dict(inputs, zero=0.0, **{name: value for value, name in code.constants.items()})
    for line in code.lines:
        name, expression = line.split(" = ")
        values[name] = eval(expression, {}, values)
    return values


def _value(z, values) -> float:
    return 0.0 if z is None else z[1] * values[z[0]]


@pytest.mark.parametrize("n", [2, 4, 8, 16, 32])
def test_codelets_compute_the_dft(rng, n):
    x, z = rng.standard_normal(n), rng.standard_normal(n) + 1j * rng.standard_normal(n)
    spectrum = np.fft.rfft(rng.standard_normal(n))

    code = codelets.Codelet("a", {})
    out = codelets.real_forward(code, [(f"x{j}", 1) for j in range(n)])
    values = _evaluate(code, {f"x{j}": x[j] for j in range(n)})
    got = [_value(re_, values) + 1j * _value(im, values) for re_, im in out]
    np.testing.assert_allclose(got, np.fft.fft(x), atol=1e-12 * n)

    code = codelets.Codelet("b", {})
    for sign, expected in ((-1, np.fft.fft(z)), (+1, np.fft.ifft(z) * n)):
        out = codelets.complex_transform(code, [((f"r{j}", 1), (f"i{j}", 1)) for j in range(n)], sign)
        values = _evaluate(code, {**{f"r{j}": z[j].real for j in range(n)}, **{f"i{j}": z[j].imag for j in range(n)}})
        got = [_value(re_, values) + 1j * _value(im, values) for re_, im in out]
        np.testing.assert_allclose(got, expected, atol=1e-12 * n)

    code = codelets.Codelet("c", {})
    half = [((f"e{v}", 1), None if v in (0, n // 2) else (f"f{v}", 1)) for v in range(n // 2 + 1)]
    out = codelets.hermitian_inverse(code, half + [codelets.conjugate(half[n - v]) for v in range(n // 2 + 1, n)])
    values = _evaluate(code, {**{f"e{v}": spectrum[v].real for v in range(n // 2 + 1)},
                              **{f"f{v}": spectrum[v].imag for v in range(n // 2 + 1)}})
    np.testing.assert_allclose([_value(v, values) for v in out], np.fft.irfft(spectrum, n) * n, atol=1e-12 * n)


def test_real_codelets_use_the_symmetry():
    """The r2c and c2r codelets compute only what the conjugate symmetry does not give: fewer statements
    than the complex transform of the same size (188 at 16), counted on those the outputs need."""
    code = codelets.Codelet("a", {})
    out = codelets.complex_transform(code, [((f"r{j}", 1), (f"i{j}", 1)) for j in range(16)], -1)
    complex_count = len(code.live_lines([part for z in out for part in z]))
    code = codelets.Codelet("b", {})
    out = codelets.real_forward(code, [(f"x{j}", 1) for j in range(16)])
    assert len(code.live_lines([part for z in out[:9] for part in z])) < 0.6 * complex_count
    code = codelets.Codelet("c", {})
    half = [((f"e{v}", 1), None if v in (0, 8) else (f"f{v}", 1)) for v in range(9)]
    out = codelets.hermitian_inverse(code, half + [codelets.conjugate(half[16 - v]) for v in range(9, 16)])
    assert len(code.live_lines(out)) < 0.6 * complex_count


def test_the_generated_tile_kernels_are_up_to_date():
    """tile_kernels.py is written by tile_codegen.py; it must not drift from it."""
    assert tile_codegen.KERNELS.read_text() == tile_codegen.generate()


@pytest.mark.parametrize("T", tile_codegen.GENERATED_TILES)
def test_tile_kernels_are_rfft2_of_the_tiles_and_irfft2_into_the_output(rng, T):
    """A rectangular filter (steps differ), padding on both sides, tiles past the input's end, and
    channels a block and a remainder."""
    block = selection.FFT_TILE_CHANNEL_BLOCK[T]
    N, C, K, H, W, pad_h, pad_w, E_h, E_w = 2, block + 3, block + 1, 2 * T - 3, T + 5, 1, 2, 3, 5
    step_h, step_w = T - E_h + 1, T - E_w + 1
    P, Q = H + 2 * pad_h - E_h + 1, W + 2 * pad_w - E_w + 1
    tiles_h, tiles_w = -(-P // step_h), -(-Q // step_w)
    tiles, Fc = N * tiles_h * tiles_w, T // 2 + 1

    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    X = np.full((T * Fc, tiles, C, 2), np.nan, dtype=np.float32)
    tile_kernels.INPUT_TRANSFORMS[T](x, X.reshape(T * Fc, tiles, 2 * C), tiles_h, tiles_w, step_h, step_w, pad_h, pad_w,
                                     T)
    padded = np.zeros((N, C, (tiles_h - 1) * step_h + T, (tiles_w - 1) * step_w + T))
    padded[:, :, pad_h:pad_h + H, pad_w:pad_w + W] = x
    cut = np.stack([padded[n, :, ty * step_h:ty * step_h + T, tx * step_w:tx * step_w + T]
                    for n in range(N) for ty in range(tiles_h) for tx in range(tiles_w)])  # (tiles, C, T, T)
    expected = np.fft.rfft2(cut).reshape(tiles, C, T * Fc).transpose(2, 0, 1)
    np.testing.assert_allclose(X[..., 0] + 1j * X[..., 1], expected, atol=1e-5 * np.abs(expected).max())

    Y = rng.standard_normal((T * Fc, tiles, K, 2)).astype(np.float32)
    out = np.full((N, K, P, Q), np.nan, dtype=np.float32)
    tile_kernels.OUTPUT_TRANSFORMS[T](Y.reshape(T * Fc, tiles, 2 * K), out, tiles_h, tiles_w, step_h, step_w)
    spectra = (Y[..., 0] + 1j * Y[..., 1]).transpose(1, 2, 0).reshape(N, tiles_h, tiles_w, K, T, Fc)
    whole = np.fft.irfft2(spectra, s=(T, T)) * T * T  # unnormalised, as FFTW's c2r
    valid = whole[..., T - step_h:, T - step_w:]  # (N, th, tw, K, step_h, step_w)
    assembled = valid.transpose(0, 3, 1, 4, 2, 5).reshape(N, K, tiles_h * step_h, tiles_w * step_w)[:, :, :P, :Q]
    np.testing.assert_allclose(out, assembled, atol=1e-5 * np.abs(assembled).max())
