import os

# Numba's CUDA simulator unless told otherwise (NUMBA_ENABLE_CUDASIM=0 on a GPU
# machine): read when numba.cuda is first imported, so it is set before anything
# imports numba. It changes nothing on the CPU backend.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

try:  # a bare GPU machine (.ci/gpu-check) runs tests/test_cuda.py without the test extra
    from hypothesis import HealthCheck, settings
except ImportError:
    settings = None
if settings is not None:
    # Deterministic in CI (the same examples every run), exploratory locally on request.
    settings.register_profile("ci", derandomize=True, deadline=None, max_examples=150,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("explore", deadline=None, max_examples=300,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    return np.random.default_rng(20191206)


@pytest.fixture(autouse=True, scope="session")
def private_fftw_wisdom(tmp_path_factory):
    """Keep the tests' FFTW wisdom out of the user's cache."""
    os.environ.setdefault("CONVBENCH_CACHE", str(tmp_path_factory.mktemp("convbench-cache")))
