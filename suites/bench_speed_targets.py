"""The speed issue's targets, as ratios measured alternately in one process.

Each case times convbench's algorithm and its peer call by call, interleaved,
per call including the filter transform, and tracks peer time / algorithm time
(> 1: the algorithm is faster). The goal of each case is in its name. Absolute
times on a shared 2-core machine drift; these ratios do not (much).
"""

import convbench
from convbench.measure import speedup, workspace_bytes

from .common import make_plan, pick, random_problem

SPEC_7 = convbench.ConvSpec(N=8, C=64, H=56, W=56, K=64, R=7, S=7, padding=3)
SPEC_11 = convbench.ConvSpec(N=8, C=64, H=56, W=56, K=64, R=11, S=11, padding=5)
SPEC_31 = convbench.ConvSpec(N=1, C=64, H=128, W=128, K=64, R=31, S=31, padding=15)
RESNET = {f"{C}@{H}": convbench.ConvSpec(N=8, C=C, H=H, W=H, K=C, R=3, S=3, padding=1)
          for C, H in ((64, 56), (128, 28), (256, 14), (512, 7))}

# case name -> (spec, (algorithm, compression), (peer algorithm, peer compression))
CASES = {
    "fft 7x7 vs torch (goal >= 1.5)": (SPEC_7, ("fft", 0.0), ("torch", 0.0)),
    "fft 11x11 vs torch (goal >= 3)": (SPEC_11, ("fft", 0.0), ("torch", 0.0)),
    "fft 31x31 N=1 128x128 vs torch (goal >= 10)": (SPEC_31, ("fft", 0.0), ("torch", 0.0)),
    "fft 7x7 c=0.5 vs c=0 (goal >= 1/0.6)": (SPEC_7, ("fft", 0.5), ("fft", 0.0)),
}
for name, spec in RESNET.items():
    CASES[f"winograd resnet18 {name} vs torch (goal >= 1)"] = (spec, ("winograd", 0.0), ("torch", 0.0))
    CASES[f"winograd resnet18 {name} vs direct (goal >= 2)"] = (spec, ("winograd", 0.0), ("direct", 0.0))
    CASES[f"direct resnet18 {name} vs torch (goal >= 0.5)"] = (spec, ("direct", 0.0), ("torch", 0.0))


QUICK_CASES = ["fft 7x7 vs torch (goal >= 1.5)", "fft 7x7 c=0.5 vs c=0 (goal >= 1/0.6)",
               "winograd resnet18 256@14 vs torch (goal >= 1)"]


class SpeedTargets:
    params = [pick(list(CASES), QUICK_CASES)]
    param_names = ["case"]
    rounds = 1
    timeout = 600

    def setup(self, case):
        spec, (algorithm, compression), (peer, peer_compression) = CASES[case]
        self.x, self.w = random_problem(spec)
        self.candidate = make_plan(spec, algorithm, "cpu", compression)
        self.peer = make_plan(spec, peer, "cpu", peer_compression)

    def track_speedup(self, case):
        return speedup(lambda: self.candidate(self.x, self.w), lambda: self.peer(self.x, self.w), repeats=5)

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
