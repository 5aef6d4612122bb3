"""The package's layers, bottom to top, written once.

Each layer imports only from the layers below it, and the modules of one
layer import each other without a cycle. tests/test_package_layers.py holds
the package to this list, and checks that the Layout sections (README, docs/content/design/layout.md) name
the same folders in the same order.
"""
from __future__ import annotations

# (name, the packages it is made of, what it holds)
LAYERS = (
    ("core", ("convbench.core",),
     "ConvSpec, ConvError, input checks, the cache, thread settings, the float64 oracle, every threshold"),
    ("algorithms", ("convbench.algorithms",), "the implementations: the repository's algorithms/ folder"),
    ("interface", ("convbench.interface",), "registry, plan() and conv2d(), algorithm='auto'"),
    ("nn", ("convbench.nn",), "torch modules and autograd over a plan"),
    ("workloads", ("convbench.workloads",), "network layers, model layers, test data, training passes, accuracy"),
    ("measure", ("convbench.measure",), "timing protocol, rooflines, sweeps, targets, the regression guard"),
    ("corpus", ("convbench.corpus",), "the layer corpus of timm and torchvision, its sweep, store and answers"),
    ("report", ("convbench.report",), "asv results, charts, the published page, the main job"),
    ("top", ("convbench.cli", "convbench"), "the command line, and the front door (import convbench)"),
)


def layer_of(module: str) -> str:
    """The layer a module belongs to: the one whose package is the longest prefix of its name."""
    best, length = "", -1
    for name, packages, _ in LAYERS:
        for package in packages:
            if (module == package or module.startswith(package + ".")) and len(package) > length:
                best, length = name, len(package)
    if not best:
        raise KeyError(f"{module} is in no layer of convbench.core.layering.LAYERS")
    return best


def rank(layer: str) -> int:
    return [name for name, _, _ in LAYERS].index(layer)
