"""The field's own implementations of the algorithms, behind the same Plan interface as ours.

  cudnn_engines  cuDNN's engines on the GPU, one family at a time (FFT, Winograd and its
                 tiles, implicit GEMM), through NVIDIA's cudnn-frontend

Each is loaded lazily (the registry imports a module only when asked) and is n/a
with the reason when its library, its device or the shape is missing.
"""


def package_problem(load, package: str) -> str:
    """Why a peer's Python package cannot be imported ('' when load() imports it): the extra to install."""
    try:
        load()
    except ImportError as err:
        return f"{package} is not installed (pip install 'convbench[peers]'): {err}"
    return ""
