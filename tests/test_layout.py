"""The copies between NCHW and channels-last that plans compute through."""
import numpy as np
import pytest

from convbench.algorithms.layout import to_channels_first
from convbench.algorithms.padding import embed_channels_last
from convbench.core.selection import CHANNELS_LAST_COPY_BY_KERNEL_FROM


@pytest.mark.parametrize("channels", [3, CHANNELS_LAST_COPY_BY_KERNEL_FROM, 2 * CHANNELS_LAST_COPY_BY_KERNEL_FROM + 1])
@pytest.mark.parametrize("rows, cols, top, left", [(11, 13, 1, 1), (8, 10, 0, 0), (9, 12, 1, 2), (12, 13, 2, 1)])
def test_embed_channels_last_places_the_input_and_leaves_the_border(rng, channels, rows, cols, top, left):
    """Below and from the threshold (torch's copy, then the Numba kernel): every element lands at its padded
    place, what falls outside the buffer is cut, and the border keeps what it held."""
    x = rng.standard_normal((2, channels, 9, 11), dtype=np.float32)
    buffer = np.full((2, rows, cols, channels), 7.0, dtype=np.float32)
    embed_channels_last(x, buffer, top, left)
    expected = np.full_like(buffer, 7.0)
    r, c = min(9, rows - top), min(11, cols - left)
    expected[:, top:top + r, left:left + c] = x[:, :, :r, :c].transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(buffer, expected)


def test_channels_last_there_and_back_is_the_identity(rng):
    x = rng.standard_normal((3, CHANNELS_LAST_COPY_BY_KERNEL_FROM, 7, 5), dtype=np.float32)
    channels_last = np.empty((3, 7, 5, x.shape[1]), dtype=np.float32)
    embed_channels_last(x, channels_last, 0, 0)
    back = np.empty_like(x)
    to_channels_first(channels_last, back)
    np.testing.assert_array_equal(back, x)


@pytest.mark.parametrize("shape, dtype", [((3, 5, 7), np.float32), (1000, np.complex64), ((4, 0), np.float32),
                                          ((2, 9), np.int64)])
def test_aligned_arrays_start_on_a_cache_line_with_the_shape_and_dtype_asked(shape, dtype):
    from convbench.core.arrays import LINE, aligned_empty, aligned_zeros
    for _ in range(8):  # numpy's own start moves between allocations: each must be put on a line
        empty, zeros = aligned_empty(shape, dtype), aligned_zeros(shape, dtype)
        want = (shape,) if isinstance(shape, int) else shape
        for array in (empty, zeros):
            assert array.shape == want and array.dtype == dtype and array.flags.c_contiguous and array.flags.writeable
            assert array.size == 0 or array.ctypes.data % LINE == 0
        assert not zeros.any()


@pytest.mark.parametrize("algorithm", ["winograd F(4x4,3x3)", "direct", "fft", "fft tile 16"])
def test_a_plans_buffers_and_its_output_start_on_cache_lines(rng, algorithm):
    import convbench
    from convbench.core.arrays import LINE
    from convbench.workloads.random_inputs import random_problem

    spec = convbench.ConvSpec(N=2, C=16, H=12, W=12, K=16, R=3, S=3, padding=1)
    plan = convbench.plan(spec, algorithm)
    out = plan(*random_problem(spec, rng))
    buffers = [a for a in vars(plan).values() if isinstance(a, np.ndarray) and a.nbytes >= 4096]  # not constants
    assert out.ctypes.data % LINE == 0
    assert all(a.ctypes.data % LINE == 0 for a in buffers), [a.ctypes.data % LINE for a in buffers]
