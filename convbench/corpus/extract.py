"""One model's convolutions, with ConvBench's dedup key (Alvarenga et al., 2024).

A forward hook on every nn.Conv2d records the input and output shapes and the
module's parameters while the model runs once at batch 1. The run is on torch's
meta device: every tensor has a shape and no storage, so a 600x600 EfficientNet
costs no memory and about 0.3 s (25 timm models sampled: 7.6 s in all). A
model whose ops have no meta kernel is run again on the CPU, on zeros.

A convolution convbench cannot express (a padding mode other than zeros, or
padding that is asymmetric) keeps its shape and the reason, so the corpus
counts it instead of dropping it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from convbench.core.errors import ConvError
from convbench.core.spec import ConvSpec

# The columns of a layer, in order: ConvBench's key (input, output, kernel, padding, stride, dilation,
# groups, bias; every hooked module is an nn.Conv2d, so none is transposed).
KEY_COLUMNS = ("N", "C", "H", "W", "K", "P", "Q", "R", "S", "padding", "stride_h", "stride_w",
               "dil_h", "dil_w", "groups", "bias")


@dataclass(frozen=True)
class Found:
    """One unique convolution of one model."""
    key: tuple              # the values of KEY_COLUMNS
    modules: tuple          # the modules that ran it, as named_modules() names them
    count: int              # how many times the forward pass ran it
    why_not: str            # "" when convbench can compute it, else why not

    @property
    def layer_id(self) -> str:
        return layer_id(self.key)


def layer_id(key: tuple) -> str:
    """A stable name for a layer: the first 12 hex digits of its key's SHA-1."""
    return hashlib.sha1("|".join(map(str, key)).encode()).hexdigest()[:12]


def _effective_padding(conv, input_hw, output_hw) -> tuple[tuple[int, int] | None, str]:
    """(padding as ConvSpec takes it, "") or (None, why convbench cannot express it)."""
    if conv.padding_mode != "zeros":
        return None, f"padding_mode={conv.padding_mode!r} (convbench pads with zeros)"
    # timm's Conv2dSame, StdConv2dSame, ScaledStdConv2dSame pad so inside their forward
    pads_itself = type(conv).__name__.endswith("Same") or conv.padding == "same"
    pads = []
    for axis, (size, out) in enumerate(zip(input_hw, output_hw)):
        k, s, d = conv.kernel_size[axis], conv.stride[axis], conv.dilation[axis]
        extent = d * (k - 1) + 1
        if pads_itself:
            # TensorFlow's 'SAME' (then a convolution with padding 0; torch's padding='same' is its
            # stride-1 case): the total, the extra row or column at the end
            total = max((-(-size // s) - 1) * s + extent - size, 0)
            if total % 2:
                return None, f"asymmetric 'same' padding ({total // 2} before, {total - total // 2} after)"
            pad = total // 2
        else:
            pad = conv.padding[axis]
        if (size + 2 * pad - extent) // s + 1 != out:
            return None, (f"output {tuple(output_hw)} does not follow from padding {conv.padding!r} "
                          f"({type(conv).__name__} pads in its own way)")
        pads.append(pad)
    return (pads[0], pads[1]), ""


def conv_spec(record: dict) -> ConvSpec:
    """A corpus layer's ConvSpec (raises ConvError for a layer convbench cannot express)."""
    if record.get("why_not"):
        raise ConvError(f"layer {record.get('layer', '?')}: {record['why_not']}")
    pad_h, pad_w = (int(p) for p in str(record["padding"]).split(","))
    return ConvSpec(N=int(record["N"]), C=int(record["C"]), H=int(record["H"]), W=int(record["W"]),
                    K=int(record["K"]), R=int(record["R"]), S=int(record["S"]), padding=(pad_h, pad_w),
                    stride=(int(record["stride_h"]), int(record["stride_w"])),
                    dilation=(int(record["dil_h"]), int(record["dil_w"])), groups=int(record["groups"]))


def extract(model, input_size, device: str = "meta") -> list[Found]:
    """The unique convolutions of one forward pass of model on a (1, *input_size) tensor."""
    import torch

    names = {conv: name for name, conv in model.named_modules() if isinstance(conv, torch.nn.Conv2d)}
    seen: dict = {}

    def record(conv, inputs, output):
        N, C, H, W = inputs[0].shape
        _, K, P, Q = output.shape
        R, S = conv.kernel_size
        padding, why_not = _effective_padding(conv, (H, W), (P, Q))
        pad_text = f"{padding[0]},{padding[1]}" if padding else (conv.padding if isinstance(conv.padding, str)
                                                                  else ",".join(map(str, conv.padding)))
        key = (int(N), int(C), int(H), int(W), int(K), int(P), int(Q), int(R), int(S), pad_text, *conv.stride,
               *conv.dilation, conv.groups, conv.bias is not None)
        modules, count, _ = seen.get(key, ((), 0, ""))
        seen[key] = (modules + (names[conv],) * (names[conv] not in modules), count + 1, why_not)

    hooks = [conv.register_forward_hook(record) for conv in names]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_size), device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return [Found(key, modules, count, why_not) for key, (modules, count, why_not) in seen.items()]


def _timm():
    """timm, imported after torchvision is set up as convbench.workloads.models sets it up (timm imports
    torchvision, whose PyPI wheel cannot register its C++ ops beside the CPU torch)."""
    from convbench.workloads.models import torchvision_models

    torchvision_models()
    import timm
    import timm.data

    return timm


def zoo() -> list[tuple[str, str]]:
    """Every (source, model name) of the corpus: timm's architectures and torchvision's classification
    models, sorted."""
    from convbench.workloads.models import torchvision_models

    tv = torchvision_models()
    return sorted([("timm", name) for name in _timm().list_models()]
                  + [("torchvision", name) for name in tv.list_models(module=tv)])


def default_input(source: str, name: str, model) -> tuple[int, int, int]:
    """The input size the model is meant for: timm's data config, torchvision's weights' crop size."""
    if source == "timm":
        return tuple(_timm().data.resolve_model_data_config(model)["input_size"])
    from convbench.workloads.models import torchvision_models

    weights = torchvision_models().get_model_weights(name).DEFAULT
    crop = getattr(weights.transforms, "keywords", {}).get("crop_size", 224)
    return (3, crop, crop)


def build_model(source: str, name: str, device: str = "meta"):
    """The model without weights, its parameters on device."""
    import torch

    with torch.device(device):
        if source == "timm":
            return _timm().create_model(name, pretrained=False)
        from convbench.workloads.models import load_model

        return load_model(name)


def model_layers(source: str, name: str) -> tuple[tuple[int, int, int], list[Found], str]:
    """(input size, unique convolutions, device it ran on) for one zoo model: on the meta device, else on
    the CPU. torchvision's builders fix some input sizes (ViT's 518 weights need image_size=518): a model
    that fails at its weights' crop size runs at 224."""
    errors = []
    for device in ("meta", "cpu"):
        try:
            model = build_model(source, name, device)
            sizes = [default_input(source, name, model)]
            if source == "torchvision" and sizes[0] != (3, 224, 224):
                sizes.append((3, 224, 224))
            for size in sizes:
                try:
                    return size, extract(model, size, device), device
                except Exception as err:  # noqa: BLE001 - the next size or device, then recorded
                    errors.append(f"{device} {size}: {type(err).__name__}: {err}")
        except Exception as err:  # noqa: BLE001 - a model that cannot be built is recorded
            errors.append(f"{device}: {type(err).__name__}: {err}")
    raise ConvError(f"{source}/{name}: " + " | ".join(e.splitlines()[0][:300] for e in errors))
