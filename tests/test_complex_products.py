"""The fft's complex products as real GEMMs (where the GEMMs' engine is oneDNN 2, which has no complex
matmul): the filters' real embedding for the tiled contraction, the split planes for its filter gradient
and for the whole-image contraction (algorithms/complex_product.py), and the pruned DFTs' complex
products (algorithms/fft/dft.py).
Each is forced on here by the engine the rules read, so it runs on every machine (a product oneDNN 2
cannot take runs on torch, in the same formulation), and checked against a float64 oracle and against
the complex formulation."""
import numpy as np
import pytest
import torch

import convbench
from convbench.algorithms import blas, complex_product
from convbench.core import selection
from convbench.algorithms.fft import dft as fft_dft
from convbench.algorithms.fft.bandlimit import Band
from convbench.algorithms.fft.stages import FilterStage
from convbench.algorithms.scratch import Scratch
from convbench.workloads.random_inputs import random_problem


def complex_array(rng, shape):
    return (rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)).astype(np.complex64)


@pytest.mark.parametrize("engine", blas.ENGINES)
@pytest.mark.parametrize("shape", [(3, 130, 16, 24), (5, 7, 33, 9)])  # frequencies, rows, C, K
def test_the_embedded_product_matches_the_oracle(rng, monkeypatch, engine, shape):
    monkeypatch.setattr(blas, "engine", lambda: engine)
    F, M, C, K = shape
    X, W = complex_array(rng, (F, M, C)), complex_array(rng, (F, K, C))
    out = complex_array(rng, (F, M, K))  # what it held before must not matter
    embedding = np.full(complex_product.embedding_shape(F, K, C), np.nan, dtype=np.float32)
    complex_product.times_transposed(X, W, embedding, out)
    exact = X.astype(np.complex128) @ W.astype(np.complex128).transpose(0, 2, 1)
    assert np.abs(out - exact).max() <= 1e-5 * np.abs(exact).max()


@pytest.mark.parametrize("engine", blas.ENGINES)
@pytest.mark.parametrize("conjugate", [False, True])
def test_the_product_on_split_planes_matches_the_oracle(rng, monkeypatch, engine, conjugate):
    monkeypatch.setattr(blas, "engine", lambda: engine)
    F, K, M, C = 4, 6, 130, 10
    A, B = complex_array(rng, (F, K, M)), complex_array(rng, (F, M, C))
    out = complex_array(rng, (F, K, C))
    split = np.full((F, 2 * K, M), np.nan, dtype=np.float32)
    parts = np.full((F, 2 * K, C), np.nan, dtype=np.complex64)
    complex_product.split_product(A, B, split, parts, out, conjugate=conjugate)
    left = np.conjugate(A) if conjugate else A
    exact = left.astype(np.complex128) @ B.astype(np.complex128)
    assert np.abs(out - exact).max() <= 1e-5 * np.abs(exact).max()


@pytest.mark.parametrize("engine", blas.ENGINES)
@pytest.mark.parametrize("interleaved", [False, True])
def test_the_product_of_two_split_planes_matches_the_oracle(rng, monkeypatch, engine, interleaved):
    """Both operands as split planes (A's (2M, K), B's (2, K, N)), A read through a strided view, as the
    whole-image fft's column blocks read X's planes: the product's split planes, or the complex product."""
    monkeypatch.setattr(blas, "engine", lambda: engine)
    F, M, K, N = 3, 8, 20, 12
    A, B = complex_array(rng, (F, M, K)), complex_array(rng, (F, K, N))
    split = np.full((F, 2, 2 * M, K), np.nan, dtype=np.float32)[:, 1]  # a strided view
    complex_product.split_planes(A, split)
    B_planes = np.stack([B.real, B.imag], axis=1).astype(np.float32)
    parts = np.full((F, 2, 2 * M, N), np.nan, dtype=np.float32)
    out = complex_array(rng, (F, M, N)) if interleaved else np.full((F, 2, M, N), np.nan, dtype=np.float32)
    complex_product.split_planes_product(split, B_planes, parts, out)
    exact = A.astype(np.complex128) @ B.astype(np.complex128)
    got = out if interleaved else out[:, 0] + 1j * out[:, 1]
    assert np.abs(got - exact).max() <= 1e-5 * np.abs(exact).max()


@pytest.mark.parametrize("groups", [1, 2])
def test_the_diagonal_blocks_of_a_conjugated_transposed_view(rng, groups):
    """conj(A^T) @ B's diagonal blocks, A^T a transposed view read through torch's conjugate view (the
    whole-image fft's filter gradient, conj(G)^T X): the oracle's blocks, and A itself left as it was."""
    F, L, M, J = 3, 8, 6, 10
    A, B = complex_array(rng, (F, L, M)), complex_array(rng, (F, L, J))
    kept = A.copy()
    out = complex_array(rng, (F, M, J // groups))
    blas.diagonal_blocks(A.transpose(0, 2, 1), B, groups, out=out, conjugate=True)
    exact = np.conjugate(A.astype(np.complex128)).transpose(0, 2, 1) @ B.astype(np.complex128)
    rows, cols = M // groups, J // groups
    blocks = np.concatenate([exact[:, i * rows:(i + 1) * rows, i * cols:(i + 1) * cols] for i in range(groups)], axis=1)
    assert np.abs(out - blocks).max() <= 1e-5 * np.abs(blocks).max()
    np.testing.assert_array_equal(A, kept)


@pytest.mark.parametrize("engine", blas.ENGINES)
def test_the_conjugate_transposed_product_matches_the_oracle(rng, monkeypatch, engine):
    monkeypatch.setattr(blas, "engine", lambda: engine)
    F, L, M, N = 4, 130, 6, 10
    A, B = complex_array(rng, (F, L, M)), complex_array(rng, (F, L, N))
    out = complex_array(rng, (F, M, N))
    products = np.full((F, 2 * M, N), np.nan, dtype=np.complex64)
    complex_product.conjugate_transposed_product(A, B, products, out)
    exact = np.conjugate(A.astype(np.complex128)).transpose(0, 2, 1) @ B.astype(np.complex128)
    assert np.abs(out - exact).max() <= 1e-5 * np.abs(exact).max()


def dense_oracle(spec, x, w, dy):
    """torch's float64 forward and both gradients."""
    xt, wt = (torch.from_numpy(a).double().requires_grad_() for a in (x, w))
    y = torch.nn.functional.conv2d(xt, wt, stride=spec.stride, padding=spec.padding, dilation=spec.dilation,
                                   groups=spec.groups)
    y.backward(torch.from_numpy(dy).double())
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def passes(plan, x, w, dy):
    return plan(x, w), plan.backward_data(dy, w), plan.backward_filter(x, dy)


def assert_close(results, oracle):
    for got, exact, name in zip(results, oracle, ("forward", "backward_data", "backward_filter")):
        assert np.abs(got - exact).max() <= 2e-5 * np.abs(exact).max(), name


def planned_on(monkeypatch, engine, spec, algorithm):
    monkeypatch.setattr(blas, "engine", lambda: engine)
    return convbench.plan(spec, algorithm)


def test_tiled_fft_takes_the_embedding_from_the_rule_s_rows_and_matches_the_oracle(rng, monkeypatch):
    spec = convbench.ConvSpec(N=3, C=5, H=18, W=18, K=6, R=3, S=3, padding=1)  # 3 x 3 x 3 tiles of 8
    x, w = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    oracle = dense_oracle(spec, x, w, dy)
    monkeypatch.setattr(selection, "COMPLEX_PRODUCT_EMBEDDED_ROWS_FROM", 27)
    embedded = planned_on(monkeypatch, "onednn2", spec, "fft tile 8")
    assert embedded.tiles == 27 and embedded._embedding is not None
    assert_close(passes(embedded, x, w, dy), oracle)
    assert embedded._gradient_halves is not None  # the filter gradient as one real GEMM a frequency
    # the embedding by blocks of 7 of the 40 frequencies, a short block last
    monkeypatch.setattr(selection, "COMPLEX_PRODUCT_EMBEDDING_BLOCK_BYTES", 7 * 16 * 6 * 5)
    blocked = planned_on(monkeypatch, "onednn2", spec, "fft tile 8")
    assert blocked._embedding.shape[0] == 7
    assert_close(passes(blocked, x, w, dy), oracle)
    on_torch = planned_on(monkeypatch, "torch", spec, "fft tile 8")
    assert on_torch._embedding is None
    assert_close(passes(on_torch, x, w, dy), oracle)
    assert on_torch._gradient_halves is None
    monkeypatch.setattr(selection, "COMPLEX_PRODUCT_EMBEDDED_ROWS_FROM", 28)
    assert planned_on(monkeypatch, "onednn2", spec, "fft tile 8")._embedding is None
    grouped = convbench.ConvSpec(N=3, C=6, H=18, W=18, K=6, R=3, S=3, padding=1, groups=2)
    monkeypatch.setattr(selection, "COMPLEX_PRODUCT_EMBEDDED_ROWS_FROM", 1)
    assert planned_on(monkeypatch, "onednn2", grouped, "fft tile 8")._embedding is None  # torch's grouped cgemm


@pytest.mark.parametrize("spec", [
    convbench.ConvSpec(N=2, C=3, H=14, W=11, K=4, R=5, S=3, padding=(2, 1)),
    convbench.ConvSpec(N=2, C=4, H=15, W=15, K=6, R=3, S=3, padding=1, stride=2, dilation=2),
    convbench.ConvSpec(N=5, C=3, H=12, W=13, K=4, R=3, S=3, padding=1),  # a BLAS contraction: split planes
], ids=["padded", "strided, dilated", "batched"])
def test_the_whole_image_fft_s_real_products_match_the_oracle_and_the_complex_ones(rng, monkeypatch, spec):
    x, w = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    oracle = dense_oracle(spec, x, w, dy)
    real = planned_on(monkeypatch, "onednn2", spec, "fft")
    assert real._filter._dft.rows_as_real and real._output._dft.rows_as_real
    assert (real._halves is not None) == selection.contract_with_blas(spec.N, spec.groups)
    complex_ = planned_on(monkeypatch, "torch", spec, "fft")
    assert not complex_._filter._dft.rows_as_real and complex_._halves is None
    by_real, by_complex = passes(real, x, w, dy), passes(complex_, x, w, dy)
    assert_close(by_real, oracle)
    for a, b in zip(by_real, by_complex):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * np.abs(b).max())


@pytest.mark.parametrize("input_transform", ["dft", "fft"])
@pytest.mark.parametrize("compression", [0.0, 0.5])
def test_the_input_stage_writes_the_split_planes_of_the_complex_spectrum(rng, monkeypatch, input_transform,
                                                                         compression):
    """Where the contraction runs on X's split planes, the input stage writes them (the pruned DFT straight
    from its two real GEMMs, FFTW's spectrum split after it): each frequency's real (N x C) over its
    imaginary one, the complex spectrum's parts, which spectrum() interleaves back."""
    spec = convbench.ConvSpec(N=4, C=3, H=13, W=11, K=5, R=5, S=3, padding=(2, 1))
    x, w = random_problem(spec, rng)
    plans = {}
    for engine in ("onednn2", "torch"):
        monkeypatch.setattr(blas, "engine", lambda engine=engine: engine)
        plans[engine] = convbench.plan(spec, "fft", compression=compression, input_transform=input_transform)
    split, complex_ = plans["onednn2"], plans["torch"]
    assert split._input.planes is not None and complex_._input.planes is None
    split._input.planes[...] = np.nan  # what it held before must not matter
    split.transform_input(x)
    complex_.transform_input(x)
    X = complex_._input.X
    scale = np.abs(X).max()
    np.testing.assert_allclose(split._input.planes[:, :spec.N], X.real, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(split._input.planes[:, spec.N:], X.imag, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(split._input.spectrum(), X, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("in_place", [True, False])
@pytest.mark.parametrize("compression", [0.0, 0.5])
def test_the_inverse_from_split_planes_gives_the_interleaved_inverse_s_outputs(rng, monkeypatch, in_place,
                                                                            compression):
    """The pruned inverse DFT takes the spectrum as split planes (the forward's contraction on split planes
    writes them) and gives what it gives from the interleaved spectrum, writing the output in place or
    through its scratch (gemm_writes_strided_output)."""
    monkeypatch.setattr(fft_dft, "gemm_writes_strided_output", lambda engine: in_place)
    band = Band((21, 18), compression)
    batch, P, Q = 6, 9, 7
    Y = complex_array(rng, (band.retained, batch))
    outputs = {}
    for split in (False, True):
        inverse = fft_dft.InverseSupportDFT(band, batch, P, Q, stride=(2, 2), split=split)
        assert inverse.writes_in_place == in_place
        spectrum = np.stack([Y.real, Y.imag], axis=1).astype(np.float32) if split else Y
        outputs[split] = np.full((batch, P, Q), np.nan, dtype=np.float32)
        inverse(spectrum, outputs[split])
    scale = np.abs(outputs[False]).max()
    np.testing.assert_allclose(outputs[True], outputs[False], rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("columns", [1, 3, 100])
def test_the_filter_spectrum_s_split_column_blocks_are_the_whole_spectrum_s_planes(rng, columns):
    """The pruned filter DFT a block of columns at a time as split planes, each block's first product its own:
    block after block, over one buffer, the planes of the whole spectrum's columns."""
    spec = convbench.ConvSpec(N=4, C=3, H=13, W=11, K=5, R=5, S=3, padding=(2, 1))
    band = Band((17, 14), 0.0)
    w = rng.uniform(-1, 1, spec.filter_shape).astype(np.float32)
    whole = FilterStage("dft", spec, band, Scratch(), None)(w).reshape(band.n_rows, band.n_cols, spec.C, spec.K)
    stage = FilterStage("dft", spec, band, Scratch(), None, split=True)
    covered = 0
    for start, stop, W in stage.split_column_blocks(w, columns):
        assert W.shape == (band.n_rows, stop - start, 2, spec.C, spec.K) and stop - start <= columns
        want = whole[:, start:stop]
        scale = np.abs(want).max()
        np.testing.assert_allclose(W[:, :, 0], want.real, rtol=0, atol=1e-5 * scale)
        np.testing.assert_allclose(W[:, :, 1], want.imag, rtol=0, atol=1e-5 * scale)
        covered += stop - start
    assert covered == band.n_cols
