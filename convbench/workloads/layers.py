"""Named sets of real network layers, for sweeps and charts.

Batch sizes are scaled down from the sources so that a sweep fits a 2-core
machine: each Layer keeps the batch its source used (`source_batch`) next to
the batch convbench runs (`spec.N`). Effective GFLOP/s does not depend on N
for large enough layers; time and memory scale about linearly with it.
"""
from __future__ import annotations

from dataclasses import dataclass

from convbench.core.errors import ConvError
from convbench.core.spec import ConvSpec


@dataclass(frozen=True)
class Layer:
    name: str
    spec: ConvSpec
    source: str
    source_batch: int


def _layer(name, source, source_batch, N, C, K, H, W, R, S, padding=0, stride=1):
    return Layer(name, ConvSpec(N=N, C=C, H=H, W=W, K=K, R=R, S=S, padding=padding, stride=stride), source, source_batch)


# convnet-benchmarks (soumith): batch 128, stride 1, no padding. Run at N=1.
CONVNET_BENCHMARKS = (
    _layer("L1", "convnet-benchmarks", 128, 1, 3, 96, 128, 128, 11, 11),
    _layer("L2", "convnet-benchmarks", 128, 1, 64, 128, 64, 64, 9, 9),
    _layer("L3", "convnet-benchmarks", 128, 1, 128, 128, 32, 32, 9, 9),
    _layer("L4", "convnet-benchmarks", 128, 1, 128, 128, 16, 16, 7, 7),
    _layer("L5", "convnet-benchmarks", 128, 1, 384, 384, 13, 13, 3, 3),
)

# ResNet-18's 3x3 layers (ImageNet), pad 1, stride 1, C = K. Run at N=8.
RESNET18 = (
    _layer("resnet18-conv2", "ResNet-18", 256, 8, 64, 64, 56, 56, 3, 3, padding=1),
    _layer("resnet18-conv3", "ResNet-18", 256, 8, 128, 128, 28, 28, 3, 3, padding=1),
    _layer("resnet18-conv4", "ResNet-18", 256, 8, 256, 256, 14, 14, 3, 3, padding=1),
    _layer("resnet18-conv5", "ResNet-18", 256, 8, 512, 512, 7, 7, 3, 3, padding=1),
)

# A DeepBench subset (inference kernels; DeepBench uses batch 1..32 there). Run at N=1.
DEEPBENCH = (
    _layer("vgg-224", "DeepBench", 8, 1, 3, 64, 224, 224, 3, 3, padding=1),
    _layer("vgg-112", "DeepBench", 8, 1, 64, 128, 112, 112, 3, 3, padding=1),
    _layer("vgg-56", "DeepBench", 8, 1, 128, 256, 56, 56, 3, 3, padding=1),
    _layer("vgg-28", "DeepBench", 8, 1, 256, 512, 28, 28, 3, 3, padding=1),
    _layer("vgg-14", "DeepBench", 8, 1, 512, 512, 14, 14, 3, 3, padding=1),
    _layer("vgg-7", "DeepBench", 8, 1, 512, 512, 7, 7, 3, 3, padding=1),
    _layer("resnet-56", "DeepBench", 8, 1, 64, 64, 56, 56, 3, 3, padding=1),
    _layer("googlenet-5x5", "DeepBench", 8, 1, 192, 32, 28, 28, 5, 5, padding=2),
    _layer("speech-5x20", "DeepBench", 8, 1, 1, 32, 161, 700, 5, 20, stride=2),
)

LAYER_SETS = {"convnet": CONVNET_BENCHMARKS, "resnet18": RESNET18, "deepbench": DEEPBENCH}
ALL_LAYERS = {layer.name: layer for group in LAYER_SETS.values() for layer in group}


def layer(name: str) -> Layer:
    try:
        return ALL_LAYERS[name]
    except KeyError:
        raise ConvError(f"layer must be one of {', '.join(ALL_LAYERS)}; got {name!r}") from None
