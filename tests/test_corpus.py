"""The layer corpus: extraction on the meta device, the committed files, their hash and tiers."""
import shutil

import pytest
import torch

from convbench.core.errors import ConvError
from convbench.core.spec import ConvSpec
from convbench.corpus import extract, table
from convbench.corpus.extract import conv_spec


class Padded(torch.nn.Module):
    """A stem that pads as TensorFlow's 'SAME' inside its forward, as timm's Conv2dSame does."""

    def __init__(self):
        super().__init__()
        self.reflect = torch.nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")
        self.same = torch.nn.Conv2d(8, 8, 3, padding="same")
        self.plain = torch.nn.Conv2d(8, 16, 5, stride=2, padding=2, groups=4, bias=False)

    def forward(self, x):
        x = self.reflect(x)
        x = self.same(x) + self.same(x)  # one module run twice: one layer, count 2
        return self.plain(x)


def test_extraction_keys_counts_and_what_convbench_cannot_express():
    found = {f.modules[0]: f for f in extract.extract(Padded(), (3, 20, 20), "meta")}
    assert found["reflect"].why_not.startswith("padding_mode='reflect'")
    assert found["same"].count == 2 and found["same"].why_not == ""
    assert found["same"].key[9] == "1,1"  # 'same' resolved for the 3x3 kernel
    plain = found["plain"]
    assert plain.key == (1, 8, 20, 20, 16, 10, 10, 5, 5, "2,2", 2, 2, 1, 1, 4, False)
    assert plain.layer_id == extract.layer_id(plain.key) and len(plain.layer_id) == 12


def test_asymmetric_same_padding_is_counted_not_dropped():
    class Conv2dSame(torch.nn.Conv2d):  # timm's name: pads (0, 1) for a 3x3 stride 2 on an even input
        def forward(self, x):
            return super().forward(torch.nn.functional.pad(x, (0, 1, 0, 1)))

    model = torch.nn.Sequential(Conv2dSame(3, 4, 3, stride=2))
    (found,) = extract.extract(model, (3, 8, 8), "meta")
    assert "asymmetric 'same' padding (0 before, 1 after)" == found.why_not


def test_meta_device_extraction_matches_running_the_model_on_zeros():
    """The corpus's shapes (meta device) are those convbench.workloads.models finds on real zeros."""
    from convbench.workloads.models import from_model, load_model

    meta = extract.extract(extract.build_model("torchvision", "resnet18", "meta"), (3, 96, 96), "meta")
    real = from_model(load_model("resnet18"), (1, 3, 96, 96))
    assert {conv_spec(dict(zip(extract.KEY_COLUMNS, f.key))) for f in meta} == {layer.spec for layer in real}
    assert sum(f.count for f in meta) == sum(layer.count for layer in real)


def test_committed_corpus_matches_its_hash_versions_and_counts():
    meta = table.metadata()
    assert table.verify() == meta["sha256"]
    assert meta["versions"]["timm"] == "1.0.31" and meta["versions"]["torchvision"] == "0.28.0"
    assert meta["failed"] == 0 and meta["models"] == len(table.models()) > 1400
    rows = table.layers()
    assert meta["layers"] == len(rows) == len({row["layer"] for row in rows})
    assert meta["tiers"] == {name: len(table.tier(name)) for name in table.TIERS}
    assert {row["layer"] for row in table.occurrences()} == {row["layer"] for row in rows}


def test_a_changed_corpus_file_fails_its_hash(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(table.DATA, copy)
    (copy / "layers.csv").write_bytes((copy / "layers.csv").read_bytes().replace(b",dense,", b",grouped,", 1))
    with pytest.raises(ConvError, match="layers.csv does not match the sha256"):
        table.verify(copy)


def test_every_expressible_layer_reproduces_its_recorded_output_shape():
    """The padding the corpus records (inferred for modules that pad themselves) gives each layer the
    output its model produced."""
    wrong = []
    for row in table.layers():
        if table.expressible(row):
            spec = conv_spec(row)
            if (spec.P, spec.Q) != (int(row["P"]), int(row["Q"])) or spec.K != int(row["K"]):
                wrong.append(row["layer"])
        else:
            assert row["why_not"]
            with pytest.raises(ConvError, match=row["why_not"][:20]):
                conv_spec(row)
    assert wrong == []


def test_tiers_are_what_they_say_and_stable():
    dense, grouped, pointwise = (table.tier(name) for name in ("dense", "grouped", "pointwise"))
    assert all(int(r["groups"]) == 1 and int(r["R"]) * int(r["S"]) > 1 for r in dense)
    assert all(int(r["groups"]) > 1 for r in grouped)
    assert any(int(r["groups"]) == int(r["C"]) == int(r["K"]) for r in grouped)  # depthwise among them
    assert all(r["R"] == r["S"] == "1" and r["groups"] == "1" for r in pointwise)
    assert len(dense) + len(grouped) + len(pointwise) == len(table.tier("all"))
    smoke = table.tier("smoke")
    assert 45 <= len(smoke) <= 55 and {r["kind"] for r in smoke} == set(table.KINDS)
    assert all(table.expressible(r) and table.flops(r) <= table.SMOKE_MAX_FLOPS for r in smoke)
    assert [r["layer"] for r in smoke] == [r["layer"] for r in table.tier("smoke")]
    sample = table.sample(dense, 500)
    assert len(sample) == 500 and len({r["layer"] for r in sample}) == 500
    assert {r["kind"] for r in sample} == {r["kind"] for r in dense}
    with pytest.raises(ConvError, match="tier must be one of"):
        table.tier("huge")


def test_corpus_spec_is_a_convspec():
    row = next(r for r in table.tier("dense") if table.expressible(r))
    assert isinstance(conv_spec(row), ConvSpec) and conv_spec(row).N == 1
