"""The speed targets, as ratios measured alternately in one process.

Each case times convbench's algorithm and its peer call by call, interleaved,
per call including the filter transform, and tracks peer time / algorithm time
(> 1: the algorithm is faster). Each case's goal is in its name. Absolute times
on a shared 2-core machine drift; these ratios much less.
"""
from convbench.interface import registry
from convbench.measure.targets import GPU_RATIOS, INFERENCE, TARGETS, compression_workspace_ratio, measured_speedup

from .common import VERSION, pick

QUICK_CASES = ["fft 7x7 vs torch", "fft 7x7 c=0.5 vs c=0", "winograd resnet18 256@14 vs torch"]


class SpeedTargets:
    version = VERSION
    params = [[f"{name} (goal >= {TARGETS[name].goal:.3g})" for name in pick(list(TARGETS), QUICK_CASES)]]
    param_names = ["case"]
    rounds = 1
    timeout = 600

    def track_speedup(self, case):
        return measured_speedup(TARGETS[case.rsplit(" (goal", 1)[0]])

    track_speedup.unit = "x faster than the peer"


class InferenceSpeedup:
    """The same ratios with the filters fixed by plan.set_weights (transformed once), both sides."""

    version = VERSION
    params = [pick(list(INFERENCE), list(INFERENCE)[:1])]
    param_names = ["case"]
    rounds = 1
    timeout = 600

    def track_speedup(self, case):
        return measured_speedup(INFERENCE[case], inference=True)

    track_speedup.unit = "x faster than the peer"


class CompressionWorkspace:
    """Measured workspace of fft at c = 0.5 over c = 0 on the 7x7 layer (goal <= 0.6)."""

    version = VERSION
    rounds = 1
    timeout = 300

    def track_workspace_ratio(self):
        return compression_workspace_ratio()

    track_workspace_ratio.unit = "workspace(c=0.5) / workspace(c=0)"


class GpuRatios:
    """The ratios to cuDNN on the GPU (3x3, 7x7, 11x11; fft at c = 0 and 0.5): n/a without a GPU."""

    version = VERSION
    params = [pick(list(GPU_RATIOS), ["cuda winograd 3x3 vs cudnn", "cuda fft 7x7 vs cudnn"])]
    param_names = ["case"]
    rounds = 1
    timeout = 600

    def setup(self, case):
        target = GPU_RATIOS[case]
        for algorithm in (target.algorithm, target.peer):  # n/a only where the registry says so
            reason = registry.why_not(algorithm, "cuda", target.spec)
            if reason:
                raise NotImplementedError(reason)

    def track_speedup(self, case):
        return measured_speedup(GPU_RATIOS[case], repeats=10)

    track_speedup.unit = "x faster than the peer"
