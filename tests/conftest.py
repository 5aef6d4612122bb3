import os

# Numba's CUDA simulator unless told otherwise (NUMBA_ENABLE_CUDASIM=0 on a GPU
# machine): read when numba.cuda is first imported, so it is set before anything
# imports numba. It changes nothing on the CPU backend.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
# The tests' measurements take their own lock: they neither wait for a sweep running on this machine nor
# stop one (convbench.measure.measurement_lock); the processes they start inherit it.
import tempfile  # noqa: E402

os.environ.setdefault("CONVBENCH_MEASUREMENT_LOCK", os.path.join(tempfile.mkdtemp(prefix="convbench-tests-"),
                                                                 "measurement.lock"))
# The rule's thresholds are the shipped ones in the tests, whatever `convbench calibrate` stored for this
# machine under results/calibration (tests that read a calibration plant their own).
os.environ.setdefault("CONVBENCH_CALIBRATION", tempfile.mkdtemp(prefix="convbench-tests-calibration-"))

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


@pytest.fixture(scope="session")
def charts_from_committed_results(tmp_path_factory):
    """`convbench plot --machine` of the Zen 4 on a copy of the committed results, with one asv result file and one corpus
    store file cut short (what a killed run leaves): drawn once for the two tests that read the charts
    (every chart of every committed machine: 47 s here, 2026-12-02)."""
    import contextlib
    import io
    import json
    import shutil
    from pathlib import Path
    from types import SimpleNamespace

    from convbench.cli import main
    from convbench.corpus import table

    root = tmp_path_factory.mktemp("committed")
    results = root / "results"
    shutil.copytree(Path(__file__).resolve().parents[1] / "results", results,
                    ignore=shutil.ignore_patterns("html", "figures"))
    victim = sorted((results / "vm").glob("*.json"))[0]
    victim.write_bytes(victim.read_bytes()[:300])
    machine = "amd-epyc-f25-avx512-2-cores"  # the Zen 4: the machine with a committed full sweep and corpus store
    store = results / "corpus" / machine
    line = {"layer": table.tier("smoke")[0]["layer"], "batch": 1, "when": "2026-12-02T00:00:00+00:00", "spec": None,
            "variants": {"torch": {"seconds": 1e-3}, "direct": {"seconds": 2e-3}}}
    (store / "cut-b1.jsonl").write_bytes((json.dumps(line) + "\n").encode() + b'{"layer": "0123", "varia')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["plot", "--results", str(results), "--out", str(root / "figures"), "--machine", machine])
    return SimpleNamespace(status=status, printed=printed.getvalue(), victim=victim, figures=root / "figures")
