"""cuDNN's engine families as peers on cuda (convbench.algorithms.peers.cudnn_engines).

On the CPU: the refusals by name (backend, options, a missing frontend, a missing or old cuDNN),
the note filters, and the plan built end to end over a stand-in frontend that records the graph
it is given and declines some plans. On a GPU (.ci/gpu-check): every family's forward and both
passes against the float64 oracle, or n/a naming the family, the pass and the device.
"""
import sys
import types

import numpy as np
import pytest

import convbench
from convbench.algorithms.peers import cudnn_engines
from convbench.core import error_budget
from convbench.core.errors import ConvError
from convbench.core.oracle import reference_conv2d, relative_error
from convbench.interface import registry
from convbench.workloads.layers import layer
from convbench.workloads.random_inputs import random_problem

SPEC = convbench.ConvSpec(N=2, C=4, H=9, W=8, K=6, R=3, S=3, padding=(1, 2), stride=(2, 1), dilation=(1, 2))


def test_every_family_is_a_registry_variant_on_cuda_only():
    cudnn = [label for label in registry.PEER_LABELS if registry.PEER_VARIANTS[label][0] == "cudnn"]
    families = {registry.PEER_VARIANTS[label][1]["engine"] for label in cudnn}
    assert families == set(cudnn_engines.FAMILIES)
    listed = {(a.name, a.backend): a for a in registry.implementations(peers=True)}
    for label in cudnn:
        assert (label, "cuda") in listed and (label, "cpu") not in listed
        assert listed[label, "cuda"].available or listed[label, "cuda"].reason
    with pytest.raises(ConvError, match="cudnn runs on backend 'cuda' only"):
        convbench.plan(SPEC, "cudnn fft", "cpu")
    assert "runs on backend 'cuda' only" in registry.why_not("cudnn winograd", "cpu", SPEC)


def test_float32_leaves_out_the_rounding_engines_and_tf32_admits_them():
    for family in cudnn_engines.FAMILIES:
        keep, drop = cudnn_engines.note_filters(family, tf32=False)
        assert set(cudnn_engines.ROUNDING_NOTES) <= set(drop)
        keep_tf32, drop_tf32 = cudnn_engines.note_filters(family, tf32=True)
        assert keep_tf32 == keep and not set(cudnn_engines.ROUNDING_NOTES) & set(drop_tf32)
    assert cudnn_engines.note_filters("fft", False)[0] == ("FFT",)
    assert {"FFT", "WINOGRAD"} <= set(cudnn_engines.note_filters("implicit-gemm", True)[1])


@pytest.mark.parametrize("options, named", [
    (dict(engine="fft tiling"), "engine must be one of 'implicit-gemm'"),
    (dict(engine="fft", tf32=1), "tf32 must be True or False; got 1"),
    (dict(engine="fft", candidate=-1), "candidate must be an int >= 0"),
    (dict(engine="fft", candidate=True), "candidate must be an int >= 0"),
])
def test_bad_options_are_refused_by_name_before_anything_loads(options, named):
    with pytest.raises(ConvError, match=named):
        cudnn_engines.CudnnEngineCUDA(SPEC, **options)


def test_a_missing_frontend_or_cudnn_library_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "cudnn", None)  # what an uninstalled package looks like to import
    assert "nvidia-cudnn-frontend is not installed" in cudnn_engines.frontend_problem()

    def no_library():
        raise RuntimeError("Unable to find symbol cudnnGetVersion")

    monkeypatch.setitem(sys.modules, "cudnn", types.SimpleNamespace(backend_version=no_library))
    assert "cannot load the cuDNN library: Unable to find symbol" in cudnn_engines.frontend_problem()
    monkeypatch.setitem(sys.modules, "cudnn", types.SimpleNamespace(backend_version=lambda: 8907))
    assert "cuDNN 8907 is too old" in cudnn_engines.frontend_problem()
    with pytest.raises(ConvError, match="algorithm='cudnn' on backend='cuda' is not available here: cuDNN 8907"):
        cudnn_engines.CudnnEngineCUDA(SPEC, engine="fft")


def test_the_real_frontend_without_a_gpu_names_the_library():
    pytest.importorskip("cudnn", reason="nvidia-cudnn-frontend not installed (extra convbench[cudnn])")
    from convbench.algorithms.gpu import unavailable_reason

    if not unavailable_reason(needs_cudnn=True):
        pytest.skip("a GPU with cuDNN is here")
    problem = cudnn_engines.frontend_problem()
    assert problem == "" or "cuDNN library" in problem


class _Declined(RuntimeError):
    pass


class _Graph:
    """Stands in for cudnn.pygraph: records what it is given; plans named in `declined` do not build."""

    def __init__(self, frontend, **settings):
        self.frontend, self.settings, self.calls, self.tensors = frontend, settings, [], {}
        frontend.graphs.append(self)

    def tensor(self, name, dim, stride, data_type):
        self.tensors[name] = dict(dim=dim, stride=stride)
        return _Tensor(name)

    def _conv(self, kind, **arguments):
        self.calls.append((kind, {k: (v.name if isinstance(v, _Tensor) else v) for k, v in arguments.items()}))
        return _Tensor(kind)

    def conv_fprop(self, **arguments):
        return self._conv("fprop", **arguments)

    def conv_dgrad(self, **arguments):
        return self._conv("dgrad", **arguments)

    def conv_wgrad(self, **arguments):
        return self._conv("wgrad", **arguments)

    def validate(self):
        self.calls.append(("validate",))

    def build_operation_graph(self):
        self.calls.append(("build_operation_graph",))

    def create_execution_plans(self, modes):
        self.calls.append(("plans", tuple(modes)))

    def select_numeric_notes(self, notes):
        self.calls.append(("select", tuple(notes)))

    def deselect_numeric_notes(self, notes):
        self.calls.append(("deselect", tuple(notes)))

    def get_execution_plan_count(self):
        return len(self.frontend.plans)

    def get_plan_name_at_index(self, index):
        return self.frontend.plans[index]

    def build_plan_at_index(self, index):
        if self.frontend.plans[index] in self.frontend.declined:
            raise _Declined(f"{self.frontend.plans[index]} is barred by a numerical-note filter\nmore")

    def get_workspace_size_plan_at_index(self, index):
        return 1024 * (index + 1)


class _Tensor:
    def __init__(self, name):
        self.name = name

    def set_output(self, flag):
        return self

    def set_data_type(self, data_type):
        return self

    def set_dim(self, dim):
        self.dim = dim
        return self


def _frontend(plans, declined=()):
    frontend = types.SimpleNamespace(plans=list(plans), declined=set(declined), graphs=[])
    frontend.data_type = types.SimpleNamespace(FLOAT="f32")
    frontend.heur_mode = types.SimpleNamespace(A="A", FALLBACK="FALLBACK")
    frontend.numerical_note = types.SimpleNamespace(**{note: note for note in (
        "FFT", "WINOGRAD", "WINOGRAD_TILE_4x4", "WINOGRAD_TILE_6x6", "WINOGRAD_TILE_13x13", "TENSOR_CORE",
        "DOWN_CONVERT_INPUTS")})
    frontend.cudnnGraphNotSupportedError = _Declined
    frontend.backend_version = lambda: 90500
    frontend.create_handle = lambda: "handle"
    frontend.pygraph = lambda **settings: _Graph(frontend, **settings)
    return frontend


def test_a_plan_takes_its_familys_first_engine_that_builds_over_a_stand_in_frontend(monkeypatch):
    frontend = _frontend(["eng7_k3", "eng1_k2", "eng0"], declined={"eng7_k3"})
    monkeypatch.setitem(sys.modules, "cudnn", frontend)
    built = cudnn_engines.CudnnEngineCUDA(SPEC, engine="winograd 4x4")
    assert built.ran == {"forward": "eng1_k2"}
    graph = frontend.graphs[0]
    assert graph.settings["io_data_type"] == "f32" and graph.settings["handle"] == "handle"
    conv = next(call[1] for call in graph.calls if call[0] == "fprop")
    assert (conv["image"], conv["weight"]) == ("x", "w")
    assert (conv["padding"], conv["stride"], conv["dilation"]) == ([1, 2], [2, 1], [1, 2])
    assert graph.tensors["x"] == dict(dim=[2, 4, 9, 8], stride=[288, 72, 8, 1])
    assert ("plans", ("A", "FALLBACK")) in graph.calls
    assert ("select", ("WINOGRAD_TILE_4x4",)) in graph.calls
    assert ("deselect", ("TENSOR_CORE", "DOWN_CONVERT_INPUTS")) in graph.calls
    second = cudnn_engines.CudnnEngineCUDA(SPEC, engine="winograd 4x4", candidate=1)
    assert second.ran == {"forward": "eng0"}
    with pytest.raises(ConvError, match=r"candidate=2: cuDNN offers 2 engine\(s\) for the winograd 4x4 family's "
                                        r"forward pass .* \(eng1_k2, eng0\); expected candidate < 2"):
        cudnn_engines.CudnnEngineCUDA(SPEC, engine="winograd 4x4", candidate=2)


def test_a_family_the_device_does_not_offer_is_refused_with_every_decline(monkeypatch):
    monkeypatch.setitem(sys.modules, "cudnn", _frontend(["eng2", "eng5"], declined={"eng2", "eng5"}))
    with pytest.raises(ConvError, match=r"cuDNN offers no engine for the fft family's forward pass .*float32\) "
                                        r"\(eng2: eng2 is barred by a numerical-note filter; eng5: eng5 is barred"):
        cudnn_engines.CudnnEngineCUDA(SPEC, engine="fft")
    survey = cudnn_engines.survey(SPEC, tf32=True)
    assert set(survey) == set(cudnn_engines.FAMILIES)
    assert all(set(passes) == set(cudnn_engines.PASSES) for passes in survey.values())
    assert [engine["why_not"] != "" for engine in survey["fft"]["backward_filter"]] == [True, True]


# -- on a GPU ------------------------------------------------------------------------------------------------
AVAILABLE = {(a.name, a.backend): a for a in registry.implementations(peers=True)}
needs_cudnn_frontend = pytest.mark.skipif(not AVAILABLE["cudnn fft", "cuda"].available,
                                          reason=AVAILABLE["cudnn fft", "cuda"].reason or "available")
REAL_SPECS = [layer("resnet18-conv2").spec, layer("resnet18-conv5").spec,
              convbench.ConvSpec(N=8, C=64, H=56, W=56, K=64, R=11, S=11, padding=5)]
# Relative L2 error against the float64 oracle: the cuda backend's real-size budget (core.error_budget)
# until the first GPU run measures cuDNN's own engines.
TOLERANCE = error_budget.GPU_TOLERANCE


@needs_cudnn_frontend
@pytest.mark.parametrize("spec", REAL_SPECS, ids=str)
@pytest.mark.parametrize("label", registry.PEER_LABELS)
def test_every_cudnn_family_matches_the_oracle_or_is_na_by_name(label, spec):
    host_x, host_w = random_problem(spec)
    dy = np.random.default_rng(3).uniform(-1, 1, spec.output_shape).astype(np.float32)
    try:
        built = convbench.plan(spec, label, "cuda")
    except ConvError as err:
        assert "cuDNN offers no engine for the" in str(err)
        pytest.skip(f"n/a: {err}")
    assert relative_error(built(host_x, host_w), reference_conv2d(host_x, host_w, spec.padding, spec.stride)) < TOLERANCE
    x64, w64, dy64 = (np.asarray(a, np.float64) for a in (host_x, host_w, dy))
    oracle = built.float64()
    for name, ours, truth in (("backward_data", lambda: built.backward_data(dy, host_w),
                               lambda: oracle.backward_data(dy64, w64)),
                              ("backward_filter", lambda: built.backward_filter(host_x, dy),
                               lambda: oracle.backward_filter(x64, dy64))):
        try:
            got = ours()
        except ConvError as err:
            assert "cuDNN offers no engine for the" in str(err)
            continue
        assert relative_error(got, truth()) < TOLERANCE, name
