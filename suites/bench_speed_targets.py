"""The speed issue's targets, as ratios measured alternately in one process.

Each case times convbench's algorithm and its peer call by call, interleaved,
per call including the filter transform, and tracks peer time / algorithm time
(> 1: the algorithm is faster). Each case's goal is in its name. Absolute times
on a shared 2-core machine drift; these ratios much less.
"""
import convbench
from convbench.measure import speedup, workspace_bytes
from convbench.targets import INFERENCE, SPEC_7, TARGETS

from .common import make_plan, pick, random_problem

QUICK_CASES = ["fft 7x7 vs torch", "fft 7x7 c=0.5 vs c=0", "winograd resnet18 256@14 vs torch"]


class SpeedTargets:
    params = [[f"{name} (goal >= {TARGETS[name].goal:.3g})" for name in pick(list(TARGETS), QUICK_CASES)]]
    param_names = ["case"]
    rounds = 1
    timeout = 600

    def setup(self, case):
        target = TARGETS[case.rsplit(" (goal", 1)[0]]
        self.x, self.w = random_problem(target.spec)
        self.candidate = make_plan(target.spec, target.algorithm, "cpu", target.compression)
        self.peer = make_plan(target.spec, target.peer, "cpu", target.peer_compression)

    def track_speedup(self, case):
        return speedup(lambda: self.candidate(self.x, self.w), lambda: self.peer(self.x, self.w), repeats=5)

    track_speedup.unit = "x faster than the peer"


class InferenceSpeedup:
    """The same ratios with the filters fixed by plan.set_weights (transformed once), both sides."""

    params = [pick(list(INFERENCE), list(INFERENCE)[:1])]
    param_names = ["case"]
    rounds = 1
    timeout = 600

    def setup(self, case):
        target = INFERENCE[case]
        self.x, w = random_problem(target.spec)
        self.candidate = make_plan(target.spec, target.algorithm, "cpu").set_weights(w)
        self.peer = make_plan(target.spec, target.peer, "cpu").set_weights(w)

    def track_speedup(self, case):
        return speedup(lambda: self.candidate(self.x), lambda: self.peer(self.x), repeats=5)

    track_speedup.unit = "x faster than the peer"


class CompressionWorkspace:
    """Measured workspace of fft at c = 0.5 over c = 0 on the 7x7 layer (goal <= 0.6)."""

    rounds = 1
    timeout = 300

    def setup(self):
        self.x, self.w = random_problem(SPEC_7)

    def track_workspace_ratio(self):
        half = workspace_bytes(lambda: convbench.plan(SPEC_7, "fft", compression=0.5), self.x, self.w)
        full = workspace_bytes(lambda: convbench.plan(SPEC_7, "fft", compression=0.0), self.x, self.w)
        return half / full

    track_workspace_ratio.unit = "workspace(c=0.5) / workspace(c=0)"
