"""What every convbench asv benchmark shares: problems, plans, and the four measurements.

CONVBENCH_QUICK=1 selects each suite's quick subset (what CI and
`convbench bench --quick` run), CONVBENCH_BACKENDS (default "cpu,cuda") the
backends swept; asv passes both through to the benchmark processes.
"""
import os
import sys

import convbench
from convbench.interface import registry
from convbench.measure.allocator import keep_freed_memory
from convbench.measure.measurement_lock import hold_for_this_process
from convbench.measure.placement_log import LOG_ENV, append
from convbench.measure.timing import median_seconds, on_backend, workspace_bytes
from convbench.workloads.random_inputs import random_problem

QUICK = os.environ.get("CONVBENCH_QUICK", "") not in ("", "0")

# An asv process that times (its forkserver, or a spawned benchmark, or a setup_cache) holds the machine's
# measurement lock until it exits: no other convbench measurement runs beside asv's. Under `convbench bench`
# the main job holds it and these processes measure under its hold. asv times the calls itself, so its
# processes put glibc's malloc in timing's state here (forked benchmarks inherit it; the workspace
# measurement switches it for its own process).
if sys.argv[0].endswith(os.path.join("asv", "benchmark.py")) and sys.argv[1:2] in (["run_server"], ["run"],
                                                                                    ["setup_cache"]):
    hold_for_this_process(f"asv {sys.argv[1]}")
    keep_freed_memory()


def pick(full, quick):
    return quick if QUICK else full


# asv keeps a benchmark's history only while its version matches; by default the
# version is a hash of the benchmark's source, so any edit to this file would
# orphan every stored result. Bump this when what the benchmarks measure changes.
VERSION = "1"
# every variant ('winograd F(4x4,3x3)', 'fft tile 16', ...) and every CPU peer ('nnpack wt8x8', 'onednn2
# winograd', ...); the quick subset keeps one bigger tile of each family and the peers of two of them
ALGORITHMS = pick(list(registry.SWEPT_LABELS),
                  ["direct", "winograd", "winograd F(4x4,3x3)", "fft", "fft tile 16", "torch", "onednn2 winograd",
                   "nnpack ft16x16"])
# CONVBENCH_BACKENDS=cuda runs only the GPU's rows (what .ci/gpu-check asks of a
# lent GPU machine, whose time is short); asv stores each result with its own
# parameters, so the published page still lines them up with the CPU's.
BACKENDS = [backend for backend in registry.BACKENDS
            if backend in os.environ.get("CONVBENCH_BACKENDS", "cpu,cuda").split(",")]


def make_plan(spec, algorithm, backend, compression=0.0):
    """The plan; NotImplementedError (asv shows n/a) only where the registry says the
    combination cannot run (Winograd off 3x3/stride 1, a backend this machine lacks) or that a
    sweep leaves it out (an FFT tile over twice the output: mostly padding).
    A ConvError on a supported combination is a regression and fails the benchmark."""
    reason = registry.why_not_swept(algorithm, backend, spec)
    if reason:
        raise NotImplementedError(reason)
    return convbench.plan(spec, algorithm, backend, compression)


# Where the threads sat around each timed sample, when the sweep logs it (measure.placement_log). asv
# runs the class's setup, then the time_ method's own, before every sample, and the method's teardown
# after it. The method's setup (timing(name)) marks the process as one that times; from its second sample
# on the class's setup probes before its warm-up call (placement_before_warm_up: the call then leaves the
# caches as it wants them after the probe's blocks passed through), and the teardown probes after the
# sample. peakmem_'s and the tracks' processes never probe: the probe's blocks would count in a peak.
_probed = {}


def timing(method: str):
    """The setup asv runs for the time_ method `method` after the class's: marks the process."""
    def mark(*params):
        _probed["timing"] = method
    return mark


def placement_before_warm_up(case) -> None:
    """In the class's setup of a CPU case, just before its warm-up call."""
    _probed.pop("before", None)
    if _probed.get("timing") and os.environ.get(LOG_ENV):
        from convbench.measure.placement import placement

        name = f"{type(case).__module__.rpartition('.')[2]}.{type(case).__name__}.{_probed['timing']}"
        _probed.update(benchmark=name, before=placement())


def placement_after(*params):
    """The time_ method's teardown: the probe after the sample, and the log's line."""
    if os.environ.get(LOG_ENV) and "before" in _probed:
        from convbench.measure.placement import placement

        append(os.environ[LOG_ENV], _probed["benchmark"], [repr(p) for p in params], _probed.pop("before"),
               placement())


def logs_placement(method):
    """A time_ method whose samples the sweep files by the threads' placement (its class's setup calls
    placement_before_warm_up)."""
    method.setup, method.teardown = timing(method.__name__), placement_after
    return method


class _Timed:
    """The timing settings every convolution benchmark shares (asv's attributes)."""

    version = VERSION
    rounds = 1
    repeat = (3, 10, 4.0)
    number = 1
    warmup_time = 0.0
    timeout = 300


class _ConvCase(_Timed):
    """time_, peakmem_, workspace and GFLOP/s of one planned convolution.

    On the cuda backend the data lives on the device, every timed call ends
    in a synchronize, and the workspace is device bytes from torch's allocator
    (peakmem_ stays the host process's RSS).

    Subclasses set params/param_names and define case(*params) ->
    (spec, algorithm, backend, compression). Planning happens in setup, so
    time_ measures the call only.
    """

    def case(self, *params):
        raise NotImplementedError

    def setup(self, *params):
        self.spec, algorithm, backend, compression = self.case(*params)
        self.build = lambda: make_plan(self.spec, algorithm, backend, compression)
        self.plan = self.build()
        self.x_host, self.w_host = random_problem(self.spec)
        self.on_gpu = backend == "cuda"
        (self.x, self.w), self.sync = on_backend(backend, self.x_host, self.w_host)
        if backend == "cpu":  # a GPU call's time does not rest on the host's caches
            placement_before_warm_up(self)
        self.plan(self.x, self.w)  # warm-up: compiled kernels, lazy buffers, cuDNN's algorithm choice
        self.sync()

    @logs_placement
    def time_conv(self, *params):
        self.plan(self.x, self.w)
        self.sync()  # a GPU call returns when queued; the time is until it is done

    def peakmem_conv(self, *params):
        self.plan(self.x, self.w)
        self.sync()

    def track_workspace(self, *params):
        return workspace_bytes(self.build, self.x, self.w, device=self.on_gpu)

    track_workspace.unit = "bytes"

    def track_gflops(self, *params):
        seconds = median_seconds(lambda: self.plan(self.x, self.w), repeats=3, warmup=0, sync=self.sync)
        return self.spec.flops / seconds / 1e9

    track_gflops.unit = "GFLOP/s"


def _warm_kernels():
    """Load what each forked benchmark would otherwise load itself, once, in asv's forkserver.

    Nothing here may start a thread pool that fork cannot copy: a child hangs
    if its parent ran torch (OpenMP) or a multi-threaded FFTW plan, and under
    Numba's omp layer, which runs the kernels on torch's OpenMP pool
    (algorithms/pools.py), a child that runs a kernel after its parent did is
    ended by Numba. So the modules are imported here, and the kernels run (and
    load from Numba's cache, about 0.25 s per algorithm) in each benchmark's
    setup, outside the timed calls; only under another layer (workqueue, which
    survives fork) are they run here too."""
    from convbench.algorithms import pools
    from convbench.algorithms.direct import cpu as _direct  # noqa: F401
    from convbench.algorithms.fft import cpu as _fft, tiled as _tiled  # noqa: F401
    from convbench.algorithms.winograd import cpu as _winograd  # noqa: F401

    if pools.shared_openmp():
        return
    spec = convbench.ConvSpec(N=1, C=2, H=8, W=8, K=2, R=3, S=3, padding=1)
    x, w = random_problem(spec)
    convbench.plan(spec, "direct")(x, w)
    convbench.plan(spec, "winograd")(x, w)
    convbench.plan(spec, "fft", threads=1, planner_effort="FFTW_ESTIMATE")(x, w)


if "run_server" in sys.argv:  # asv's forkserver; with spawn each process loads only what it runs
    _warm_kernels()
