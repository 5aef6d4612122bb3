"""Layers taken from a torch model: from_model and `convbench layers --model`."""
import csv
import json

import numpy as np
import pytest
import torch

import convbench
from convbench import cli
from convbench.workloads.models import from_model, load_model


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
        (spec(N=2, C=3, H=17, W=16, K=8, R=3, S=3, padding=1, stride=2), ("stem",), 1),
        (spec(N=2, C=8, H=9, W=8, K=8, R=3, S=3, padding=1, groups=8), ("depthwise",), 1),
        (spec(N=2, C=8, H=9, W=8, K=8, R=3, S=3, padding=2, dilation=2), ("dilated",), 2),
        (spec(N=2, C=8, H=9, W=8, K=16, R=1, S=1), ("pointwise_a", "pointwise_b"), 2),
        (spec(N=2, C=16, H=9, W=8, K=16, R=5, S=3, padding=(2, 1)), ("same",), 1),
    ]
    assert [(l.spec, l.names, l.count) for l in found] == expected


def test_each_extracted_layer_computes_what_its_module_computes():
    """The spec carries every parameter: convbench's direct plan on it gives the module's own output."""
    model = Small()
    rng = np.random.default_rng(8)
    for found in from_model(model, (2, 3, 17, 16)):
        module = getattr(model, found.names[0])
        x = rng.uniform(-1, 1, found.spec.input_shape).astype(np.float32)
        with torch.no_grad():
            theirs = torch.nn.functional.conv2d(torch.from_numpy(x), module.weight, None, module.stride,
                                                module.padding, module.dilation, module.groups).numpy()
        ours = convbench.plan(found.spec, "direct")(x, module.weight.detach().numpy())
        assert np.allclose(ours, theirs, rtol=1e-4, atol=1e-5), found.names


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


def test_sweep_model_times_every_layer_and_adds_up_the_totals(tmp_path, capsys):
    out_json, out_csv = tmp_path / "small.json", tmp_path / "small.csv"
    assert cli.main(["sweep", "--model", "test_models:small", "--input", "1", "3", "24", "24", "--repeats", "1",
                     "--algorithms", "direct", "winograd", "fft", "--json", str(out_json), "--csv", str(out_csv)]) == 0
    printed = capsys.readouterr().out
    assert "cherry-pick" in printed and "x torch" in printed and "total [ms]" in printed  # the unit is shown
    data = json.loads(out_json.read_text())
    layers = from_model(Small(), (1, 3, 24, 24))
    by_layer = {}
    for record in data["layers"]:
        by_layer.setdefault(record["layer"], {})[record["algorithm"]] = record
    assert len(by_layer) == len(layers)
    for found in layers:
        times = {a: r["seconds"] for a, r in by_layer[found.name].items()}
        # torch is always timed; direct and fft take every layer here; Winograd only the ungrouped...
        assert {"torch", "direct", "fft"} <= set(times)
        # ... undilated 3x3 stride-1 ones (the depthwise layer included: Winograd takes groups)
        assert ("winograd" in times) == ((found.spec.R, found.spec.S, found.spec.stride, found.spec.dilation)
                                         == (3, 3, (1, 1), (1, 1)))
        winners = [a for a, r in by_layer[found.name].items() if r["winner"]]
        assert winners == [min(times, key=times.get)]
    totals = data["totals"]
    expected_torch = sum(found.count * by_layer[found.name]["torch"]["seconds"] for found in layers)
    assert totals["seconds"]["torch"] == pytest.approx(expected_torch)
    # Winograd's total takes torch's time on the layers it cannot compute
    expected_winograd = sum(found.count * by_layer[found.name].get("winograd", by_layer[found.name]["torch"])["seconds"]
                            for found in layers)
    assert totals["seconds"]["winograd"] == pytest.approx(expected_winograd)
    assert totals["cherry_pick"] <= min(totals["seconds"].values()) + 1e-12
    assert totals["cherry_pick_vs_torch"] == pytest.approx(totals["seconds"]["torch"] / totals["cherry_pick"])
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == len(data["layers"]) and {r["groups"] for r in rows} == {"1", "8"}


def test_recommend_model_stores_a_choice_that_auto_then_uses(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    assert cli.main(["recommend", "--model", "test_models:small", "--input", "1", "3", "20", "20"]) == 0
    assert "stored for algorithm='auto'" in capsys.readouterr().out
    for found in from_model(Small(), (1, 3, 20, 20)):
        built = convbench.plan(found.spec, "auto")
        assert "measured here" in built.choice
        assert built.label in convbench.interface.registry.LABELS


def test_recommend_needs_a_shape_or_a_model(capsys):
    assert cli.main(["recommend", "1", "2", "3"]) == 2
    assert "N C H W K R S (7 ints) or --model" in capsys.readouterr().out


def test_torchvision_and_timm_models_load_by_name_without_weights():
    pytest.importorskip("torchvision", exc_type=ImportError)  # the `models` extra
    resnet = from_model(load_model("resnet18"), (1, 3, 224, 224))
    assert (len(resnet), sum(found.count for found in resnet)) == (11, 20)
    assert resnet[0].spec == convbench.ConvSpec(N=1, C=3, H=224, W=224, K=64, R=7, S=7, padding=3, stride=2)
    mobilenet = from_model(load_model("mobilenetv3_small_100"), (1, 3, 224, 224))  # timm's
    assert any(found.spec.groups == found.spec.C == found.spec.K > 1 for found in mobilenet)


def test_auto_without_a_measurement_gives_grouped_and_dilated_layers_to_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    depthwise = convbench.ConvSpec(N=8, C=256, H=28, W=28, K=256, R=3, S=3, padding=1, groups=256)
    built = convbench.plan(depthwise, "auto")
    assert built.algorithm == "torch" and "grouped or dilated" in built.choice


@pytest.mark.parametrize("arguments,message", [
    (dict(C=6, K=4, groups=4), "groups=4 must divide C = 6"),
    (dict(C=4, K=6, groups=4), "groups=4 must divide K = 6"),
    (dict(C=4, K=4, groups=0), "groups must be an int >= 1"),
    (dict(C=4, K=4, dilation=0), "dilation must be >= 1"),
    (dict(C=4, K=4, dilation=5), r"filter height 11 \(dilated\) is larger than the padded input"),
])
def test_bad_groups_and_dilation_are_conv_errors(arguments, message):
    with pytest.raises(convbench.ConvError, match=message):
        convbench.ConvSpec(N=1, H=8, W=8, R=3, S=3, **arguments)


def test_filters_with_the_wrong_channels_for_the_groups_are_a_conv_error():
    x, w = np.ones((1, 6, 8, 8), np.float32), np.ones((4, 6, 3, 3), np.float32)
    with pytest.raises(convbench.ConvError, match=r"expected w.shape\[1\] == x.shape\[1\] / groups = 2"):
        convbench.conv2d(x, w, groups=3)


def test_sweep_model_in_inference_mode_transforms_the_filters_once(tmp_path, monkeypatch, capsys):
    """--inference: set_weights transforms each plan's filters once; the timed calls transform none."""
    from convbench.algorithms.fft.cpu import FFTCPU

    transforms = []
    real = FFTCPU.transform_filter
    monkeypatch.setattr(FFTCPU, "transform_filter", lambda self, w: transforms.append(1) or real(self, w))
    out_json = tmp_path / "small.json"
    assert cli.main(["sweep", "--model", "test_models:small", "--input", "1", "3", "16", "16", "--repeats", "2",
                     "--algorithms", "fft", "--inference", "--json", str(out_json)]) == 0
    assert "filters fixed by set_weights" in capsys.readouterr().out
    data = json.loads(out_json.read_text())
    assert data["inference"] is True
    layers = from_model(Small(), (1, 3, 16, 16))
    assert len(transforms) == len(layers)  # one set_weights per layer, nothing per call
    assert {r["layer"] for r in data["layers"] if r["algorithm"] == "fft"} == {found.name for found in layers}
