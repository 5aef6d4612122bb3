"""Long 1-D convolutions: where does FFT overtake, and by how much? The proposal's DSP claim.

Signals of 4k to 1M samples, filters of 3 to 8k taps (valid), with one channel (N=C=K=1)
and with eight (N=4, C=K=8). The variants are convbench's 1-D ones (direct, fft,
fft overlap-save, torch's conv1d) and scipy's fftconvolve and oaconvolve as a second
peer, and the plain torch.fft convolution (convbench.workloads.signal_peers). A case
whose direct sum passes 2e11 flops is n/a for direct and conv1d (a minute and more a
call here: conv1d took 1.8 s at 65,536 x 4,096 with eight channels, 1.6e11 flops).
"""
import numpy as np

import convbench
from convbench.interface.registry import SIGNAL_LABELS
from convbench.measure.timing import workspace_bytes
from convbench.workloads.signal_peers import PEERS

from .common import _Timed, logs_placement, pick, placement_before_warm_up

# the quick subset runs two variants, for its time (results/records/implementation-choices.json,
# row suite-signal-quick-variants)
VARIANTS = pick([*SIGNAL_LABELS, *PEERS], ["fft overlap-save", "torch"])
LENGTHS = pick([4096, 16384, 65536, 262144, 1048576], [16384])
FILTERS = pick([3, 16, 64, 256, 1024, 4096, 8192], [64, 1024])
CHANNELS = pick([1, 8], [8])
DIRECT_FLOPS_UP_TO = 2e11


def signal_spec(length, taps, channels):
    return convbench.SignalSpec(N=1 if channels == 1 else 4, C=channels, L=length, K=channels, R=taps)


class Signal(_Timed):
    params = [VARIANTS, LENGTHS, FILTERS, CHANNELS]
    param_names = ["algorithm", "length", "filter", "channels"]
    timeout = 600

    def setup(self, variant, length, taps, channels):
        if taps * 2 > length:
            raise NotImplementedError(f"a {taps}-tap filter on {length} samples: mostly not a long convolution")
        if channels == 8 and length > 65536:
            raise NotImplementedError("eight channels up to 65,536 samples (the sweep's time)")
        self.spec = spec = signal_spec(length, taps, channels)
        if variant in ("direct", "torch") and spec.flops > DIRECT_FLOPS_UP_TO:
            raise NotImplementedError(f"{spec.flops:.1e} flops of direct sums: minutes a call")
        rng = np.random.default_rng(0)
        self.x = rng.uniform(-1, 1, spec.input_shape).astype(np.float32)
        self.w = rng.uniform(-1, 1, spec.filter_shape).astype(np.float32)
        self.build = (lambda: PEERS[variant](spec)) if variant in PEERS else (lambda: convbench.plan(spec, variant))
        self.plan = self.build()
        placement_before_warm_up(self)
        self.plan(self.x, self.w)

    @logs_placement
    def time_conv(self, *params):
        self.plan(self.x, self.w)

    def track_workspace(self, *params):
        return workspace_bytes(self.build, self.x, self.w)

    track_workspace.unit = "bytes"


class SignalCompression(_Timed):
    """The band-limited 1-D fft at c in {0 .. 0.9}: time and workspace (N=4, C=K=8, 65,536 x 4,096)."""

    params = [pick([0.0, 0.25, 0.5, 0.75, 0.9], [0.0, 0.5])]
    param_names = ["compression"]

    def setup(self, compression):
        self.spec = signal_spec(pick(65536, 16384), pick(4096, 1024), 8)
        rng = np.random.default_rng(0)
        self.x = rng.uniform(-1, 1, self.spec.input_shape).astype(np.float32)
        self.w = rng.uniform(-1, 1, self.spec.filter_shape).astype(np.float32)
        self.build = lambda: convbench.plan(self.spec, "fft", compression=compression)
        self.plan = self.build()
        placement_before_warm_up(self)
        self.plan(self.x, self.w)

    @logs_placement
    def time_conv(self, compression):
        self.plan(self.x, self.w)

    def track_workspace(self, compression):
        return workspace_bytes(self.build, self.x, self.w)

    track_workspace.unit = "bytes"
