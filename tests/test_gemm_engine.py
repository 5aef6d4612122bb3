"""The CPU GEMMs' engine (algorithms/blas.py): oneDNN 2's matmul where the rule picks it, torch's MKL
elsewhere; each product against a float64 oracle, on every geometry the algorithms hand it."""
import threading

import numpy as np
import pytest
import torch

from convbench.core import selection
from convbench.core.errors import ConvError
from convbench.algorithms import blas, onednn_matmul
from helpers import need_library

MISSING = onednn_matmul.problem()


def need_onednn2():
    need_library("oneDNN 2", MISSING)


def operands(rng, a_shape, b_shape, transposed_b=False):
    a = rng.standard_normal(a_shape, dtype=np.float32)
    if transposed_b:  # a transpose read in place, as the Winograd contraction reads its filters
        b = rng.standard_normal((*b_shape[:-2], b_shape[-1], b_shape[-2]), dtype=np.float32).swapaxes(-1, -2)
    else:
        b = rng.standard_normal(b_shape, dtype=np.float32)
    return torch.from_numpy(a), torch.from_numpy(b)


def oracle(a, b, start=None):
    exact = np.matmul(a.numpy().astype(np.float64), b.numpy().astype(np.float64))
    return exact if start is None else exact + start


def close(out, exact):
    return np.abs(out.numpy() - exact).max() <= 1e-5 * np.abs(exact).max()


GEOMETRIES = {  # a's shape, b's shape, b transposed
    "plain": ((96, 200), (200, 80), False),
    "filters transposed": ((120, 64), (64, 96), True),
    "batched": ((6, 98, 128), (6, 128, 64), False),
    "batched, transposed": ((6, 98, 128), (6, 128, 64), True),
    "a broadcast over images": ((64, 72), (3, 72, 100), False),
    "two batch dimensions": ((2, 3, 40, 72), (2, 3, 72, 50), False),
}


@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_onednn2_products_match_the_oracle_and_run_on_its_kernels(geometry):
    need_onednn2()
    rng = np.random.default_rng(7)
    a_shape, b_shape, transposed = GEOMETRIES[geometry]
    a, b = operands(rng, a_shape, b_shape, transposed)
    out = torch.from_numpy(rng.standard_normal((*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2],
                                                 b.shape[-1]), dtype=np.float32))
    assert onednn_matmul.matmul(a, b, out), f"oneDNN 2 declined the {geometry} product"
    assert close(out, oracle(a, b))


def test_onednn2_accumulates_into_a_column_slice():
    """out += a @ b into a slice of a wider buffer, as direct's per-tap products do."""
    need_onednn2()
    rng = np.random.default_rng(8)
    a, b = operands(rng, (150, 64), (64, 96))
    wide = torch.from_numpy(rng.standard_normal((150, 130), dtype=np.float32))
    before = wide.numpy().copy()
    assert onednn_matmul.matmul(a, b, wide[:, 20:116], accumulate=True)
    assert close(wide[:, 20:116], oracle(a, b, before[:, 20:116].astype(np.float64)))
    assert np.array_equal(wide[:, :20].numpy(), before[:, :20]) and np.array_equal(wide[:, 116:].numpy(),
                                                                                   before[:, 116:])


@pytest.mark.parametrize("engine", blas.ENGINES)
def test_every_engine_gives_the_same_products(engine, monkeypatch):
    if engine == "onednn2":
        need_onednn2()
    monkeypatch.setattr(blas, "engine", lambda: engine)
    rng = np.random.default_rng(9)
    for a_shape, b_shape, transposed in GEOMETRIES.values():
        a, b = operands(rng, a_shape, b_shape, transposed)
        out = torch.empty((*torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1]))
        assert close(blas.product(a, b, out), oracle(a, b))
        start = out.numpy().astype(np.float64)
        assert close(blas.product(a, b, out, accumulate=True), oracle(a, b, start))


def test_products_from_several_threads_at_once_stay_right():
    """Each thread keeps its own primitives and memory objects: a call points them at its arrays."""
    need_onednn2()
    rng = np.random.default_rng(10)
    cases = [operands(rng, (6, 98, 128), (6, 128, 64), True) for _ in range(4)]
    wrong = []

    def run(a, b):
        exact = oracle(a, b)
        for _ in range(30):
            out = torch.empty(6, 98, 64)
            if not onednn_matmul.matmul(a, b, out) or not close(out, exact):
                wrong.append(True)

    threads = [threading.Thread(target=run, args=case) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong


def test_a_new_thread_count_gets_its_own_primitive():
    need_onednn2()
    rng = np.random.default_rng(11)
    a, b = operands(rng, (128, 96), (96, 64))
    before = torch.get_num_threads()
    try:
        for threads in (1, before):
            torch.set_num_threads(threads)
            out = torch.empty(128, 64)
            assert onednn_matmul.matmul(a, b, out) and close(out, oracle(a, b))
    finally:
        torch.set_num_threads(before)
    counts = {key[-1] for key in onednn_matmul._thread_state().primitives if key[0] == (128, 96)}
    assert counts == {1, before}


def test_the_rule_picks_onednn2_only_for_avx512_kernels_on_amd():
    assert selection.gemm_engine("AuthenticAMD", "avx512_core_bf16") == "onednn2"
    assert selection.gemm_engine("AuthenticAMD", "avx2") == "torch"
    assert selection.gemm_engine("GenuineIntel", "avx512_core") == "torch"


def test_an_unknown_engine_in_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("CONVBENCH_GEMM", "openblas")
    blas.engine.cache_clear()
    try:
        with pytest.raises(ConvError, match="CONVBENCH_GEMM='openblas': expected one of torch, onednn2"):
            blas.engine()
    finally:
        monkeypatch.delenv("CONVBENCH_GEMM")
        blas.engine.cache_clear()
    assert blas.engine() in blas.ENGINES


def test_a_reloaded_library_gets_new_primitives_on_its_own_engine():
    """The loader's cache cleared (as a test of a missing library does) brings a new engine: products made
    before on the old one are made again, not run on a stream of the old engine."""
    need_onednn2()
    from convbench.algorithms.peers import dnnl_library

    rng = np.random.default_rng(12)
    a, b = operands(rng, (128, 96), (96, 64))
    assert onednn_matmul.matmul(a, b, torch.empty(128, 64))
    dnnl_library._loaded.cache_clear()
    for a, b in ((a, b), operands(rng, (130, 96), (96, 64))):  # one made before, one new
        out = torch.empty(a.shape[0], 64)
        assert onednn_matmul.matmul(a, b, out) and close(out, oracle(a, b))


@pytest.mark.parametrize("columns, padded", [(64, False), (96, False), (128, True), (256, True), (320, False),
                                             (512, True), (768, True)])
def test_right_hand_rows_are_padded_where_their_length_is_a_multiple_of_the_rule(rng, columns, padded):
    """The rows the rule pads (selection.GEMM_PAD_ROWS_OF_BYTES) are one cache line longer, the others not;
    the operand starts on a line, and a product reading it is the oracle's."""
    b = blas.right_hand_operand((2, 24, columns))
    assert b.shape == (2, 24, columns) and b.ctypes.data % 64 == 0
    assert b.strides[1] == 4 * (columns + selection.GEMM_ROW_PADDING * padded)
    b[...] = rng.standard_normal(b.shape, dtype=np.float32)
    a = torch.from_numpy(rng.standard_normal((2, 40, 24), dtype=np.float32))
    out = torch.empty(2, 40, columns)
    blas.product(a, torch.from_numpy(b), out)
    np.testing.assert_allclose(out.numpy(), oracle(a, torch.from_numpy(b)), rtol=0, atol=1e-4 * 24)
