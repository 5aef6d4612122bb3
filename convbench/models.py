"""Your model's convolutions: every nn.Conv2d of a torch model, found by running it once.

from_model(module, input_shape) hooks every nn.Conv2d, runs one forward pass
on zeros (no gradients, eval mode) and returns the unique convolutions in the
order the pass first met them, each with its shape, its conv parameters
(groups, dilation), the qualified names of the modules that have it and how
many times the pass ran it. A model name resolves as `package.module:factory`
(called with no arguments), else through torchvision, else timm, when
installed (model definitions only: no weights are loaded).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from .errors import ConvError
from .spec import ConvSpec


@dataclass(frozen=True)
class ModelLayer:
    spec: ConvSpec            # N, C (all input channels), H, W, K, R, S, padding, stride
    groups: int
    dilation: tuple[int, int]
    names: tuple[str, ...]    # the modules with this shape, as named_modules() names them
    count: int                # how many times the forward pass ran a convolution of this shape

    @property
    def key(self):
        return self.spec, self.groups, self.dilation


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
        spec = ConvSpec(N=N, C=C, H=H, W=W, K=K, R=R, S=S, padding=_padding(conv, (R, S)), stride=tuple(conv.stride))
        if conv.padding_mode != "zeros":
            raise ConvError(f"{names[conv]}: padding_mode={conv.padding_mode!r}; convbench pads with zeros only")
        key = (spec, conv.groups, tuple(conv.dilation))
        modules, count = seen.get(key, ((), 0))
        seen[key] = (modules + (names[conv],) * (names[conv] not in modules), count + 1)

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
    return [ModelLayer(spec, groups, dilation, modules, count) for (spec, groups, dilation), (modules, count) in seen.items()]


def load_model(name: str):
    """A torch model by name: `package.module:factory`, else torchvision's, else timm's (no weights)."""
    if ":" in name:
        module_name, factory = name.split(":", 1)
        try:
            return getattr(importlib.import_module(module_name), factory)()
        except (ImportError, AttributeError) as err:
            raise ConvError(f"model {name!r}: cannot load {factory} from {module_name} ({err})") from err
    try:
        import torchvision

        return torchvision.models.get_model(name, weights=None)
    except ImportError:
        pass
    except ValueError:
        pass
    try:
        import timm

        return timm.create_model(name, pretrained=False)
    except ImportError:
        pass
    except RuntimeError:
        pass
    raise ConvError(f"model must be 'package.module:factory', or a torchvision or timm model name with that "
                    f"package installed; got {name!r}")
