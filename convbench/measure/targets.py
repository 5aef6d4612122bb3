"""The speed targets: each a ratio of two algorithms on one layer, with its goal.

Shared by the asv suite (suites/bench_speed_targets.py) and `convbench targets`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from convbench.workloads import layers
from convbench.interface.api import plan
from convbench.measure.timing import on_backend, speedup, workspace_bytes
from convbench.workloads.random_inputs import random_problem, uniform
from convbench.core.signal import SignalSpec
from convbench.core.spec import ConvSpec
from convbench.workloads.signal_peers import PEERS as SIGNAL_PEERS
from convbench.workloads.training import TrainingStep, pass_call

SPEC_7 = ConvSpec(N=8, C=64, H=56, W=56, K=64, R=7, S=7, padding=3)
SPEC_11 = ConvSpec(N=8, C=64, H=56, W=56, K=64, R=11, S=11, padding=5)
SPEC_31 = ConvSpec(N=1, C=64, H=128, W=128, K=64, R=31, S=31, padding=15)
RESNET18 = {f"{layer.spec.C}@{layer.spec.H}": layer.spec for layer in layers.RESNET18}  # 64@56 .. 512@7, N=8


@dataclass(frozen=True)
class Target:
    spec: ConvSpec | SignalSpec
    algorithm: str
    peer: str
    goal: float  # the speedup (peer time / algorithm time) to reach
    compression: float = 0.0
    peer_compression: float = 0.0
    backend: str = "cpu"
    passes: str = "forward"  # or a training pass (convbench.workloads.training.PASSES), the same on both sides


TARGETS = {
    "fft 7x7 vs torch": Target(SPEC_7, "fft", "torch", 1.5),
    "fft 11x11 vs torch": Target(SPEC_11, "fft", "torch", 3.0),
    "fft 31x31 N=1 128x128 vs torch": Target(SPEC_31, "fft", "torch", 10.0),
    # the same layer on 64x64 tiles (16 of them, 2 tiles a side): the filter spectra are 64x33 instead of
    # the whole grid's 158x80, which the pruned filter DFT above spends 14.4 GFLOP on (`convbench stages`)
    "fft tile 64 31x31 N=1 128x128 vs torch": Target(SPEC_31, "fft tile 64", "torch", 10.0),
    "fft 7x7 c=0.5 vs c=0": Target(SPEC_7, "fft", "fft", 1 / 0.6, compression=0.5),
}
# direct is GEMMs over the same sum as torch's direct kernels: at least 0.8 of their speed, forward and both passes
DIRECT_VS_TORCH = 0.8
for _name, _spec in RESNET18.items():
    TARGETS[f"winograd resnet18 {_name} vs torch"] = Target(_spec, "winograd", "torch", 1.0)
    TARGETS[f"winograd resnet18 {_name} vs direct"] = Target(_spec, "winograd", "direct", 2.0)
    TARGETS[f"direct resnet18 {_name} vs torch"] = Target(_spec, "direct", "torch", DIRECT_VS_TORCH)

# The algorithm families: Winograd F(4x4,3x3) on ResNet-18, and tiled FFT on valid
# 56x56 layers (N=8, C=K=64) with the tile that measured fastest for each filter here.
VALID = {k: ConvSpec(N=8, C=64, H=56, W=56, K=64, R=k, S=k) for k in (5, 7, 11)}
BEST_TILE = {5: 16, 7: 16, 11: 32}
# F(4x4) against torch's direct: 1.5 where oneDNN 2.6's F(4x4) is 1.4-1.95x torch's (64@56 .. 256@14), 1.3 at
# 512@7, whose per-call filter transform (36 x 512 x 512 points) outweighs its 32 tiles' saved multiplies
for _name, _spec in RESNET18.items():
    TARGETS[f"winograd F(4x4,3x3) resnet18 {_name} vs torch"] = Target(_spec, "winograd F(4x4,3x3)", "torch",
                                                                        1.3 if _name == "512@7" else 1.5)
for _k, _goal in ((5, 1.2), (7, 2.0), (11, 3.0)):
    TARGETS[f"fft tile {BEST_TILE[_k]} {_k}x{_k} valid vs torch"] = Target(VALID[_k], f"fft tile {BEST_TILE[_k]}", "torch", _goal)

# Training: a training step (forward and both backward passes) and each backward
# pass, against torch's, on the same layers (N=8, C=K=64, 56x56 valid; ResNet-18's 3x3 layers).
TRAINING = {}
for _k, _goal in ((7, 2.0), (11, 3.0)):
    for _variant in ("fft", f"fft tile {BEST_TILE[_k]}"):
        TRAINING[f"{_variant} step {_k}x{_k} valid vs torch"] = Target(VALID[_k], _variant, "torch", _goal, passes="step")
TRAINING["fft step 7x7 valid c=0.5 vs c=0"] = Target(VALID[7], "fft", "fft", 1 / 0.6, compression=0.5, passes="step")
for _name, _spec in RESNET18.items():
    for _variant in ("winograd F(4x4,3x3)", "direct"):
        for _pass in ("backward_data", "backward_filter"):
            _goal = DIRECT_VS_TORCH if _variant == "direct" else 0.7
            TRAINING[f"{_variant} {_pass} resnet18 {_name} vs torch"] = Target(_spec, _variant, "torch", _goal,
                                                                                passes=_pass)

# Inference mode (plan.set_weights: filters transformed once), next to the per-call
# targets above; not a target of its own, it shows what the filter transform costs.
INFERENCE = {
    "fft 7x7 vs torch, inference": TARGETS["fft 7x7 vs torch"],
    "fft 11x11 vs torch, inference": TARGETS["fft 11x11 vs torch"],
    "fft 31x31 N=1 128x128 vs torch, inference": TARGETS["fft 31x31 N=1 128x128 vs torch"],
    "winograd resnet18 512@7 vs torch, inference": TARGETS["winograd resnet18 512@7 vs torch"],
}


# The proposal's remaining claims: long 1-D convolutions (N=4, C=K=8, valid), the best 1-D fft variant
# against torch's conv1d, the plain torch.fft convolution and scipy's best (fftconvolve here: row
# signal-target-scipy-fftconvolve), and band-limiting's time at c = 0.5.
SIGNAL_16K = SignalSpec(N=4, C=8, L=16384, K=8, R=1024)
SIGNAL_64K = SignalSpec(N=4, C=8, L=65536, K=8, R=4096)
SIGNAL = {
    "1-D fft 16384x1024 vs torch conv1d": Target(SIGNAL_16K, "fft", "torch", 20.0),
    "1-D fft 65536x4096 vs torch conv1d": Target(SIGNAL_64K, "fft", "torch", 50.0),
    "1-D fft 16384x1024 vs plain torch.fft": Target(SIGNAL_16K, "fft", "plain torch.fft", 1.0),
    "1-D fft 65536x4096 vs plain torch.fft": Target(SIGNAL_64K, "fft", "plain torch.fft", 1.0),
    "1-D fft 16384x1024 vs scipy fftconvolve": Target(SIGNAL_16K, "fft", "scipy fftconvolve", 1.0),
    "1-D fft 65536x4096 vs scipy fftconvolve": Target(SIGNAL_64K, "fft", "scipy fftconvolve", 1.0),
    "1-D fft 65536x4096 c=0.5 vs c=0": Target(SIGNAL_64K, "fft", "fft", 1 / 0.6, compression=0.5),
}


# Each of our algorithms against the field's implementation of the same algorithm: the peer's time / ours, goal 1.0 (at least as fast as the best
# implementation), forward, and both training passes where the peer has them. A peer that cannot run
# here (a library, an instruction set) is listed with its reason.
PEER_RATIOS = {}
for _name, _spec in RESNET18.items():
    PEER_RATIOS[f"winograd F(4x4,3x3) resnet18 {_name} vs onednn2 winograd"] = Target(
        _spec, "winograd F(4x4,3x3)", "onednn2 winograd", 1.0)
    PEER_RATIOS[f"winograd F(6x6,3x3) resnet18 {_name} vs nnpack wt8x8"] = Target(
        _spec, "winograd F(6x6,3x3)", "nnpack wt8x8", 1.0)
    PEER_RATIOS[f"direct resnet18 {_name} vs onednn2 direct"] = Target(_spec, "direct", "onednn2 direct", 1.0)
# first layers, where direct has one or three input channels: the field's direct kernels block over the filters
# instead; a GEMM's inner side is only R·S·C (speech-5x20: C = 1, 5x20, stride 2; VGG-224: C = 3, 3x3)
for _layer in ("speech-5x20", "vgg-224"):
    PEER_RATIOS[f"direct {_layer} vs onednn2 direct"] = Target(layers.layer(_layer).spec, "direct", "onednn2 direct", 1.0)
# one image: where oneDNN 2.6's Winograd has the fewest tiles to spread its fixed costs over, and so do we
for _name in ("64@56", "256@14"):
    PEER_RATIOS[f"winograd F(4x4,3x3) resnet18 {_name} N=1 vs onednn2 winograd"] = Target(
        replace(RESNET18[_name], N=1), "winograd F(4x4,3x3)", "onednn2 winograd", 1.0)
for _name in ("64@56", "256@14"):
    for _pass in ("backward_data", "backward_filter"):
        PEER_RATIOS[f"winograd F(4x4,3x3) {_pass} resnet18 {_name} vs onednn2 winograd"] = Target(
            RESNET18[_name], "winograd F(4x4,3x3)", "onednn2 winograd", 1.0, passes=_pass)
for _k in (3, 7):
    _spec = RESNET18["64@56"] if _k == 3 else VALID[7]
    _where = "resnet18 64@56" if _k == 3 else "7x7 valid"
    for _tile, _method in ((8, "ft8x8"), (16, "ft16x16")):
        PEER_RATIOS[f"fft tile {_tile} {_where} vs nnpack {_method}"] = Target(_spec, f"fft tile {_tile}",
                                                                               f"nnpack {_method}", 1.2)
for _k, _spec in ((7, SPEC_7), (11, SPEC_11)):
    for _peer in ("scipy fftconvolve", "fft-conv-pytorch"):
        PEER_RATIOS[f"fft {_k}x{_k} vs {_peer}"] = Target(_spec, "fft", _peer, 1.0)
for _pass in ("backward_data", "backward_filter"):
    PEER_RATIOS[f"fft {_pass} 7x7 valid vs fft-conv-pytorch"] = Target(VALID[7], "fft", "fft-conv-pytorch", 1.0,
                                                                        passes=_pass)


# Ratios to cuDNN on the GPU (no goals: the numbers are the answer), per call, data on the device.
GPU_SPEC_3 = RESNET18["64@56"]
GPU_RATIOS = {}
for _size, _spec in (("3x3", GPU_SPEC_3), ("7x7", SPEC_7), ("11x11", SPEC_11)):
    for _algorithm in ("direct", "winograd", "fft") if _size == "3x3" else ("direct", "fft"):
        GPU_RATIOS[f"cuda {_algorithm} {_size} vs cudnn"] = Target(_spec, _algorithm, "torch", 0.0, backend="cuda")
    GPU_RATIOS[f"cuda fft c=0.5 {_size} vs cudnn"] = Target(_spec, "fft", "torch", 0.0, 0.5, backend="cuda")
    GPU_RATIOS[f"cuda fft {_size} c=0.5 vs c=0"] = Target(_spec, "fft", "fft", 0.0, 0.5, backend="cuda")
# the families and the training passes on cuda (goals where one was set; measured on a lent GPU only)
GPU_RATIOS["cuda fft tile 16 7x7 vs cudnn"] = Target(SPEC_7, "fft tile 16", "torch", 0.0, backend="cuda")
for _name in ("128@28", "256@14"):
    GPU_RATIOS[f"cuda winograd F(4x4) {_name} vs cudnn"] = Target(RESNET18[_name], "winograd F(4x4,3x3)", "torch",
                                                                   1.0, backend="cuda")
for _passes in ("backward_data", "backward_filter"):
    for _algorithm in ("direct", "winograd", "fft"):
        GPU_RATIOS[f"cuda {_algorithm} 3x3 {_passes} vs cudnn"] = Target(GPU_SPEC_3, _algorithm, "torch", 0.0,
                                                                          backend="cuda", passes=_passes)

# Each of our cuda algorithms against cuDNN's engine of the same algorithm (convbench.algorithms.peers.
# cudnn_engines), ResNet-18's layers at N=8 and the 11x11 layer: which *algorithm* wins on a GPU, not
# only whether cuDNN's pick beats ours. An engine the device does not offer
# for a layer is a ConvError when the peer is planned: reported as n/a by .ci/gpu_report.py.
GPU_ENGINE_RATIOS = {}
for _name, _spec in RESNET18.items():
    GPU_ENGINE_RATIOS[f"cuda winograd {_name} vs cudnn winograd"] = Target(_spec, "winograd", "cudnn winograd",
                                                                          1.0, backend="cuda")
    GPU_ENGINE_RATIOS[f"cuda winograd F(4x4) {_name} vs cudnn winograd 4x4"] = Target(
        _spec, "winograd F(4x4,3x3)", "cudnn winograd 4x4", 1.0, backend="cuda")
    GPU_ENGINE_RATIOS[f"cuda direct {_name} vs cudnn implicit-gemm"] = Target(_spec, "direct", "cudnn implicit-gemm",
                                                                             0.7, backend="cuda")
GPU_ENGINE_RATIOS["cuda fft 11x11 vs cudnn fft"] = Target(SPEC_11, "fft", "cudnn fft", 1.0, backend="cuda")
GPU_ENGINE_RATIOS["cuda fft c=0.5 11x11 vs cudnn fft"] = Target(SPEC_11, "fft", "cudnn fft", 1.5, 0.5, backend="cuda")
for _passes in ("backward_data", "backward_filter"):
    for _algorithm, _engine in (("direct", "implicit-gemm"), ("winograd", "winograd"), ("fft", "fft")):
        GPU_ENGINE_RATIOS[f"cuda {_algorithm} 3x3 {_passes} vs cudnn {_engine}"] = Target(
            GPU_SPEC_3, _algorithm, f"cudnn {_engine}", 0.7, backend="cuda", passes=_passes)


def _dsp_peer(target: Target) -> bool:
    """Whether the target's peer is a 1-D DSP peer outside the registry (workloads.signal_peers): a 2-D
    target's peer of the same name ('scipy fftconvolve') is the registry's."""
    return isinstance(target.spec, SignalSpec) and target.peer in SIGNAL_PEERS


def peer_problem(target: Target) -> str:
    """Why the target's peer cannot run here ('' when it can): a registry peer's library, instruction set
    or shape (interface.registry.why_not); a 1-D DSP peer always can."""
    from convbench.interface.registry import why_not

    return "" if _dsp_peer(target) else why_not(target.peer, target.backend, target.spec)


def timed_calls(target: Target, inference: bool = False):
    """(the algorithm's call, the peer's call, sync) for target: zero-argument callables on one random
    problem, and what ends a timed call (the GPU's synchronize on cuda, else nothing).

    inference: both sides get their filters once through set_weights, so
    neither pays a filter transform per call. On cuda the data is on the
    device."""
    (x, w), sync = on_backend(target.backend, *random_problem(target.spec))
    candidate = plan(target.spec, target.algorithm, target.backend, target.compression)
    if _dsp_peer(target):
        peer = SIGNAL_PEERS[target.peer](target.spec)
        return (lambda: candidate(x, w)), (lambda: peer(x, w)), sync
    peer = plan(target.spec, target.peer, target.backend, target.peer_compression)
    if target.passes != "forward":
        (dy,), _ = on_backend(target.backend, gradient_of_output(target.spec))
        return pass_call(candidate, target.passes, x, w, dy), pass_call(peer, target.passes, x, w, dy), sync
    if inference:
        candidate.set_weights(w)
        peer.set_weights(w)
        return (lambda: candidate(x)), (lambda: peer(x)), sync
    return (lambda: candidate(x, w)), (lambda: peer(x, w)), sync


def measured_speedup(target: Target, repeats: int = 5, inference: bool = False) -> float:
    """Peer time / algorithm time for target, timed alternately in this process (timed_calls)."""
    candidate, peer, sync = timed_calls(target, inference)
    return speedup(candidate, peer, repeats=repeats, sync=sync)


def gradient_of_output(spec) -> np.ndarray:
    """A seeded dy for the backward passes, uniform in [-1, 1] like the inputs."""
    return uniform(np.random.default_rng(1), spec.output_shape)


WORKSPACE_GOAL = 0.6  # measured workspace at c = 0.5 over c = 0, on SPEC_7


def compression_workspace_ratio() -> float:
    """Measured workspace of fft at c = 0.5 over c = 0 on the 7x7 layer."""
    x, w = random_problem(SPEC_7)
    return (workspace_bytes(lambda: plan(SPEC_7, "fft", compression=0.5), x, w)
            / workspace_bytes(lambda: plan(SPEC_7, "fft"), x, w))


def signal_workspace_ratio() -> float:
    """Measured workspace of the 1-D fft at c = 0.5 over c = 0 on 65,536 x 4,096 (N=4, C=K=8)."""
    x, w = random_problem(SIGNAL_64K)
    return (workspace_bytes(lambda: plan(SIGNAL_64K, "fft", compression=0.5), x, w)
            / workspace_bytes(lambda: plan(SIGNAL_64K, "fft"), x, w))


def training_workspace_ratio() -> float:
    """Measured workspace of an fft training step at c = 0.5 over c = 0 (7x7, N=8 C=K=64 56x56 valid)."""
    spec = VALID[7]
    x, w = random_problem(spec)
    dy = gradient_of_output(spec)
    return (workspace_bytes(lambda: TrainingStep(plan(spec, "fft", compression=0.5), dy), x, w)
            / workspace_bytes(lambda: TrainingStep(plan(spec, "fft"), dy), x, w))
