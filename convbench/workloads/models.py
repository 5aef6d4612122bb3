"""Your model's convolutions: every nn.Conv2d of a torch model, found by running it once.

from_model(module, input_shape) hooks every nn.Conv2d, runs one forward pass
on zeros (no gradients, eval mode) and returns the unique convolutions in the
order the pass first met them, each with its ConvSpec (shape and conv
parameters: padding, stride, dilation, groups), the qualified names of the modules that have it and how
many times the pass ran it. A model name resolves as `package.module:factory`
(called with no arguments), else through torchvision, else timm, when
installed (model definitions only: no weights are loaded; the `models`
extra pins versions that install beside the CPU torch).
"""
from __future__ import annotations

import importlib
import inspect
import importlib.util
import sys
import types
import warnings
from dataclasses import dataclass

from convbench.core.errors import ConvError
from convbench.core.machine import package_version
from convbench.core.spec import ConvSpec


@dataclass(frozen=True)
class ModelLayer:
    spec: ConvSpec            # N, C (all input channels), H, W, K, R, S, padding, stride, dilation, groups
    names: tuple[str, ...]    # the modules with this shape, as named_modules() names them
    count: int                # how many times the forward pass ran a convolution of this shape

    @property
    def name(self) -> str:
        """The first module with this shape, and how many more there are."""
        more = len(self.names) - 1
        return self.names[0] + (f" (+{more})" if more else "")


def _padding(conv, kernel) -> tuple[int, int]:
    """A Conv2d's padding as a pair of ints ('valid' and 'same' resolved for its kernel and dilation)."""
    if conv.padding == "valid":
        return 0, 0
    if conv.padding == "same":
        pads = [d * (k - 1) for d, k in zip(conv.dilation, kernel)]
        if any(p % 2 for p in pads):
            raise ConvError(f"{conv}: padding='same' with an even effective kernel pads asymmetrically, "
                            f"which ConvSpec (symmetric padding) cannot express")
        return tuple(p // 2 for p in pads)
    return tuple(conv.padding)


def from_model(module, input_shape) -> list[ModelLayer]:
    """The unique nn.Conv2d convolutions of one forward pass of `module` on zeros of `input_shape`."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise ConvError(f"module must be a torch.nn.Module; got {type(module).__name__}")
    names = {conv: name for name, conv in module.named_modules() if isinstance(conv, torch.nn.Conv2d)}
    seen: dict = {}

    def record(conv, inputs, output):
        N, C, H, W = inputs[0].shape
        K, _, R, S = conv.weight.shape
        if conv.padding_mode != "zeros":
            raise ConvError(f"{names[conv]}: padding_mode={conv.padding_mode!r}; convbench pads with zeros only")
        spec = ConvSpec(N=N, C=C, H=H, W=W, K=K, R=R, S=S, padding=_padding(conv, (R, S)), stride=tuple(conv.stride),
                        dilation=tuple(conv.dilation), groups=conv.groups)
        modules, count = seen.get(spec, ((), 0))
        seen[spec] = (modules + (names[conv],) * (names[conv] not in modules), count + 1)

    hooks = [conv.register_forward_hook(record) for conv in names]
    training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(tuple(input_shape)))
    finally:
        module.train(training)
        for hook in hooks:
            hook.remove()
    return [ModelLayer(spec, modules, count) for spec, (modules, count) in seen.items()]


def _to_record(found: ModelLayer) -> dict:
    spec = found.spec
    return dict(N=spec.N, C=spec.C, H=spec.H, W=spec.W, K=spec.K, R=spec.R, S=spec.S, padding=list(spec.padding),
                stride=list(spec.stride), dilation=list(spec.dilation), groups=spec.groups, names=list(found.names),
                count=found.count)


def _from_record(record: dict) -> ModelLayer:
    """A cached layer; ValueError for anything that is not one (a hand edit, another version's format)."""
    if not isinstance(record, dict):
        raise ValueError(f"a layer entry is a {type(record).__name__}, not an object")
    count, names = record.get("count"), record.get("names")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count={count!r}; expected an int >= 1")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"names={names!r}; expected a list of module names")
    shape = {k: v for k, v in record.items() if k not in ("names", "count")}
    return ModelLayer(ConvSpec.from_json(shape), tuple(names), count)


def model_layers(name: str, input_shape) -> list[ModelLayer]:
    """from_model(load_model(name), input_shape), kept in $CONVBENCH_CACHE/model_layers.json per
    torch / torchvision / timm version: asv imports a suite once per benchmark process, and
    building and running a model each time would cost more than the benchmark. A
    `package.module:factory` model is the user's code and is never cached."""
    from convbench.core.cache import cache_root, read_json, update_json

    if ":" in name:  # the user's own code, which may have changed since: extracted every time
        return from_model(load_model(name), input_shape)
    versions = "|".join(f"{package}={package_version(package)}" for package in ("torch", "torchvision", "timm"))
    key = f"{name}|{tuple(input_shape)}|{versions}"
    path = cache_root() / "model_layers.json"
    stored = read_json(path).get(key)
    if isinstance(stored, list):
        try:
            return [_from_record(record) for record in stored]
        except (KeyError, TypeError, ValueError, ConvError) as err:  # ConvError: a spec that is not one
            warnings.warn(f"convbench: ignoring the cached layers of {name} in {path} ({err}); extracting them "
                          f"again", stacklevel=2)
    found = from_model(load_model(name), input_shape)
    update_json(path, {key: [_to_record(layer) for layer in found]})
    return found


def torchvision_models():
    """torchvision.models, or None when torchvision is not installed.

    PyPI's torchvision wheels link their C++ ops (nms, roi_align, ...) against
    torch's CUDA build; beside the CPU build `import torchvision` fails with
    "operator torchvision::nms does not exist", because its __init__ registers
    those ops. The model definitions use none of them, so then the package is
    set up without running its __init__ and torchvision.models imported from
    it (timm, which imports torchvision, finds that package too).
    """
    try:
        import torchvision
    except ImportError:
        return None
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
        for loaded in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[loaded]
        found = importlib.util.find_spec("torchvision")
        package = types.ModuleType("torchvision")
        package.__path__, package.__spec__, package.__file__ = list(found.submodule_search_locations), found, found.origin
        sys.modules["torchvision"] = package
        return importlib.import_module("torchvision.models")
    return torchvision.models


def load_model(name: str):
    """A torch model by name: `package.module:factory`, else torchvision's, else timm's (no weights)."""
    if ":" in name:
        module_name, factory = name.split(":", 1)
        try:
            return getattr(importlib.import_module(module_name), factory)()
        except (ImportError, AttributeError) as err:
            raise ConvError(f"model {name!r}: cannot load {factory} from {module_name} ({err})") from err
    models = torchvision_models()
    if models is not None and name.lower() in models.list_models():
        builder = models.get_model_builder(name.lower())
        # no weights of any kind: segmentation and detection builders default to a pretrained backbone
        no_backbone = {"weights_backbone": None} if "weights_backbone" in inspect.signature(builder).parameters else {}
        return builder(weights=None, **no_backbone)
    try:
        import timm
    except ImportError:
        timm = None
    if timm is not None and timm.is_model(name):
        return timm.create_model(name, pretrained=False)
    raise ConvError(f"model must be 'package.module:factory', or a torchvision or timm model name with that "
                    f"package installed; got {name!r}")


def forward_costs(counts, seconds: dict) -> tuple[dict, dict]:
    """What each variant costs a model's forward pass, layer by layer, as the model sweep and its chart
    both count it: ({variant or "cherry-pick": [count x seconds per call for each layer]}, {same:
    [whether the variant computed that layer]}). counts[i] is how often layer i runs; seconds[label][i]
    its seconds a call, None (or NaN) where the variant cannot compute it, which then costs torch's
    time. The cherry-pick takes the fastest variant of each layer (convnet-benchmarks' row)."""
    def known(t):
        return t is not None and t == t  # NaN is not equal to itself
    costs, own = {}, {}
    for label, times in seconds.items():
        own[label] = [known(t) for t in times]
        costs[label] = [count * (t if known(t) else torch) for count, t, torch in zip(counts, times, seconds["torch"])]
    best = [min(t for t in layer if known(t)) for layer in zip(*seconds.values())]
    costs["cherry-pick"] = [count * t for count, t in zip(counts, best)]
    own["cherry-pick"] = [True] * len(best)
    return costs, own
