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
