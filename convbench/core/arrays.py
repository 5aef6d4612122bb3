"""Turning user input into the float32 C-contiguous arrays the kernels expect."""
from __future__ import annotations

import numpy as np

from convbench.core.errors import ConvError

LAYOUTS = {"x": "(N, C, H, W)", "w": "(K, C, R, S)", "out": "(N, K, P, Q)"}


def as_conv_array(value, name: str, expected_shape=None, ndim: int = 4, layouts=LAYOUTS) -> np.ndarray:
    """A float32 C-contiguous ndim-D (4-D: 2-D convolutions) copy (or view) of value; ConvError otherwise,
    naming the argument and its layout in `layouts`.

    Integer and other float dtypes are converted to float32; bool, complex,
    object and string data are refused, as torch's conv2d refuses them.
    """
    layout = layouts.get(name, f"{ndim}-D")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise ConvError(f"{name} must be a real numeric array {layout}; "
                        f"could not make an array of {type(value).__name__}: {err}") from None
    if array.dtype.kind not in "fiu":
        raise ConvError(f"{name} must be a real numeric array (float or integer dtype) {layout}; "
                        f"got dtype {array.dtype}")
    if array.ndim != ndim:
        raise ConvError(f"{name} must be {ndim}-D {layout}; got shape {array.shape}")
    if expected_shape is not None and array.shape != tuple(expected_shape):
        raise ConvError(f"{name} must have shape {tuple(expected_shape)} {layout} "
                        f"to match the plan; got {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


# bytes: a cache line, and one AVX-512 vector
LINE = 64


def aligned_empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised C-contiguous array that starts on a cache line. numpy starts its big arrays 16 bytes
    into a page, so every 64-byte load of a row spans two lines; the GEMMs and kernels reading a plan's
    buffers ran faster on aligned ones (results/records/implementation-choices.json, row buffers-on-cache-lines)."""
    return _on_a_line(np.empty, shape, dtype)


def aligned_zeros(shape, dtype=np.float32) -> np.ndarray:
    """aligned_empty's array, zeroed: by numpy's zeroed allocation, whose fresh pages the kernel zeroes as they
    are first touched, so a per-call gradient is not written twice."""
    return _on_a_line(np.zeros, shape, dtype)


def _on_a_line(allocate, shape, dtype) -> np.ndarray:
    """A (shape, dtype) C-contiguous view, starting on a cache line, into bytes from allocate (np.empty or
    np.zeros) one line longer."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = allocate(nbytes + LINE, dtype=np.uint8)
    start = -raw.ctypes.data % LINE
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def output_buffer(out, shape) -> np.ndarray:
    """A fresh output array (on a cache line), or the caller's `out` after checking it can be written in place."""
    if out is None:
        return aligned_empty(shape)
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != tuple(shape) \
            or not out.flags.c_contiguous or not out.flags.writeable:
        got = f"{type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}"
        raise ConvError(f"out must be a writeable C-contiguous float32 array of shape {tuple(shape)}; got {got}")
    return out


def check_compression(compression) -> float:
    if isinstance(compression, bool) or not isinstance(compression, (int, float, np.integer, np.floating)):
        raise ConvError(f"compression must be a number in [0, 1); got {compression!r}")
    value = float(compression)
    if not (0.0 <= value < 1.0):
        raise ConvError(f"compression must be in [0, 1) (the fraction of spectral coefficients "
                        f"discarded); got {compression!r}")
    return value


def pop_check_finite(options: dict) -> bool:
    """The check_finite option, taken out of a plan's options (the plan, not its class, holds it)."""
    check_finite = options.pop("check_finite", False)
    if not isinstance(check_finite, bool):
        raise ConvError(f"check_finite must be True or False; got {check_finite!r}")
    return check_finite
