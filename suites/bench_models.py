"""Your model's convolutions: every unique convolution of a few torchvision models, every variant.

The layers come from one forward pass of each model (convbench.workloads.models, definitions
only, no weights), batch 1 on this 2-core machine. The chart
`model_convolutions` adds them up per model, count x time per layer, as a
stacked bar per variant, next to the cherry-pick (the fastest variant on each
layer, convnet-benchmarks' row).
"""
from convbench.workloads.models import model_layers

from .common import ALGORITHMS, _ConvCase, _Timed, pick

MODELS = pick(["resnet18", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny"], ["resnet18"])
INPUT = (1, 3, 224, 224)


def layer_id(model: str, index: int, found) -> str:
    """'resnet18/03 layer1.0.conv1 (+3) x4': model, position in the forward pass, modules, count."""
    return f"{model}/{index:02d} {found.name} x{found.count}"


LAYERS = {layer_id(model, i, found): found for model in MODELS for i, found in enumerate(model_layers(model, INPUT))}


class Models(_Timed):
    """Time per call of each unique convolution; how many times the pass runs it is in its name."""

    params = [list(LAYERS), ALGORITHMS]
    param_names = ["layer", "algorithm"]
    setup = _ConvCase.setup
    time_conv = _ConvCase.time_conv

    def case(self, name, algorithm):
        return LAYERS[name].spec, algorithm, "cpu", 0.0
