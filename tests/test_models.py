"""Layers taken from a torch model: from_model and `convbench layers --model`."""
import pytest
import torch

import convbench
from convbench import cli
from convbench.models import from_model, load_model


class Small(torch.nn.Module):
    """Every conv parameter the extraction must carry, a shape that occurs twice, a module run twice."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.depthwise = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.dilated = torch.nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.pointwise_a = torch.nn.Conv2d(8, 16, 1)
        self.pointwise_b = torch.nn.Conv2d(8, 16, 1)
        self.same = torch.nn.Conv2d(16, 16, (5, 3), padding="same")
        self.pool = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.depthwise(self.stem(x))
        x = self.dilated(self.dilated(x))  # one module, run twice
        x = self.pointwise_a(x) + self.pointwise_b(x)  # two modules, one shape
        return self.pool(self.same(x))


def small():
    return Small()


def test_from_model_returns_exactly_the_conv_layers_and_counts():
    found = from_model(Small(), (2, 3, 17, 16))
    spec = convbench.ConvSpec
    expected = [
        (spec(N=2, C=3, H=17, W=16, K=8, R=3, S=3, padding=1, stride=2), 1, (1, 1), ("stem",), 1),
        (spec(N=2, C=8, H=9, W=8, K=8, R=3, S=3, padding=1), 8, (1, 1), ("depthwise",), 1),
        (spec(N=2, C=8, H=9, W=8, K=8, R=3, S=3, padding=2), 1, (2, 2), ("dilated",), 2),
        (spec(N=2, C=8, H=9, W=8, K=16, R=1, S=1), 1, (1, 1), ("pointwise_a", "pointwise_b"), 2),
        (spec(N=2, C=16, H=9, W=8, K=16, R=5, S=3, padding=(2, 1)), 1, (1, 1), ("same",), 1),
    ]
    assert [(l.spec, l.groups, l.dilation, l.names, l.count) for l in found] == expected


def test_layers_command_prints_each_unique_shape_with_its_count(capsys):
    assert cli.main(["layers", "--model", "test_models:small", "--input", "1", "3", "32", "32"]) == 0
    out = capsys.readouterr().out
    assert "5 unique convolutions" in out and "7 convolutions in one forward pass" in out
    assert "pointwise_a, pointwise_b" in out


def test_a_model_name_that_resolves_nowhere_is_a_conv_error():
    with pytest.raises(convbench.ConvError, match="package.module:factory"):
        load_model("no_such_model_anywhere_42")
    with pytest.raises(convbench.ConvError, match="cannot load"):
        load_model("test_models:no_such_factory")
    with pytest.raises(convbench.ConvError, match="torch.nn.Module"):
        from_model(object(), (1, 3, 8, 8))
