"""cuDNN's own engines as peers on cuda, one algorithm family at a time, through NVIDIA's cudnn-frontend.

torch's conv2d lets cuDNN pick (cudnn.benchmark), so "ours against cuDNN" says
nothing about which *algorithm* wins on a GPU. cuDNN 9's engines carry
numerical notes (FFT, WINOGRAD, WINOGRAD_TILE_4x4 / 6x6 / 13x13), and the
frontend ranks every engine for a graph (heuristics A, then FALLBACK) and
filters the ranking by note. A family's plan is the first engine of that
family, in the ranking, that builds for the shape (`candidate` picks a later
one), for the forward pass and for each training pass (dgrad, wgrad) alike.

Whether a device offers a family is enumerated on the device, never assumed: a
family with no engine for a shape is a ConvError naming the family, the pass
and the device, which the suites show as n/a.

Float32 semantics (tf32=False, the default every algorithm here is held to)
leave out the engines that round their operands (notes TENSOR_CORE and
DOWN_CONVERT_INPUTS); tf32=True admits them, as torch's default does.

Written for cudnn-frontend 1.32 (`pip install 'convbench[cudnn]'`) and checked on
the CPU only as far as its refusals and its enumeration over a stand-in graph go
(tests/test_cudnn_engines.py); the device run is `.ci/gpu-check`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from convbench.core.errors import ConvError

from ..gpu import CudaPlan, as_tensor, empty

# family -> (the numerical notes its engines carry, the notes they must not carry)
FAMILIES = {
    "implicit-gemm": ((), ("FFT", "WINOGRAD")),
    "fft": (("FFT",), ()),
    "winograd": (("WINOGRAD",), ()),
    "winograd 4x4": (("WINOGRAD_TILE_4x4",), ()),
    "winograd 6x6": (("WINOGRAD_TILE_6x6",), ()),
    "winograd 13x13": (("WINOGRAD_TILE_13x13",), ()),
}
ROUNDING_NOTES = ("TENSOR_CORE", "DOWN_CONVERT_INPUTS")  # what float32 semantics leave out
PASSES = ("forward", "backward_data", "backward_filter")
FRONTEND = "nvidia-cudnn-frontend"
MIN_BACKEND = 90000  # cuDNN 9: the graph API with engine notes the frontend filters on


def note_filters(engine: str, tf32: bool) -> tuple[tuple, tuple]:
    """(notes a plan must carry, notes it must not) for a family, at float32 or TF32."""
    keep, drop = FAMILIES[engine]
    return keep, drop + (() if tf32 else ROUNDING_NOTES)


def option_problem(engine, tf32, candidate) -> str:
    """Why these options name no cuDNN plan ('' when they do)."""
    if engine not in FAMILIES:
        return f"engine must be one of {', '.join(map(repr, FAMILIES))} (a cuDNN engine family); got {engine!r}"
    if not isinstance(tf32, bool):
        return f"tf32 must be True or False; got {tf32!r}"
    if isinstance(candidate, bool) or not isinstance(candidate, int) or candidate < 0:
        return f"candidate must be an int >= 0 (0 = the family's first engine that builds); got {candidate!r}"
    return ""


def frontend_problem() -> str:
    """Why cudnn-frontend cannot run cuDNN here ('' when it can): the package, then the library."""
    try:
        import cudnn
    except ImportError as err:
        return f"{FRONTEND} is not installed (pip install 'convbench[cudnn]'): {err}"
    try:
        version = int(cudnn.backend_version())
    except Exception as err:  # the frontend raises RuntimeError when no libcudnn can be loaded
        return f"{FRONTEND} cannot load the cuDNN library: {err}"
    if version < MIN_BACKEND:
        return f"cuDNN {version} is too old: the engine families need cuDNN {MIN_BACKEND // 10000} or newer"
    return ""


@dataclass(frozen=True)
class Engine:
    """One ranked cuDNN plan for a graph: built (why_not == '') or declined, and why."""
    index: int
    name: str
    workspace_bytes: int | None
    why_not: str = ""


def enumerate_engines(graph, not_supported=(RuntimeError,)) -> list[Engine]:
    """Every ranked plan of a graph whose note filters are set, each built or with the reason it was not
    (a plan the filters bar is declined too: the frontend refuses to build it)."""
    found = []
    for index in range(graph.get_execution_plan_count()):
        try:
            name = str(graph.get_plan_name_at_index(index))
        except not_supported:
            name = f"plan {index}"
        try:
            graph.build_plan_at_index(index)
        except not_supported as err:
            found.append(Engine(index, name, None, (str(err).strip().splitlines() or [type(err).__name__])[0]))
            continue
        found.append(Engine(index, name, int(graph.get_workspace_size_plan_at_index(index))))
    return found


def chosen(engines: list[Engine], candidate: int, what: str) -> Engine:
    """The candidate-th engine that built; ConvError naming `what` and the declines when there is none."""
    built = [engine for engine in engines if not engine.why_not]
    if candidate < len(built):
        return built[candidate]
    if built:
        raise ConvError(f"candidate={candidate}: cuDNN offers {len(built)} engine(s) for {what} "
                        f"({', '.join(e.name for e in built)}); expected candidate < {len(built)}")
    declined = "; ".join(f"{e.name}: {e.why_not}" for e in engines[:4]) or "no engine was ranked"
    raise ConvError(f"cuDNN offers no engine for {what} ({declined})")


def pass_graph(cudnn, handle, spec, direction: str, engine: str, tf32: bool):
    """(graph, its input tensors by name, its output tensor, the output's shape): one pass of spec on float32
    NCHW tensors as a frontend graph, its plans ranked (heuristics A, then FALLBACK) and filtered by note."""
    f32 = cudnn.data_type.FLOAT
    graph = cudnn.pygraph(io_data_type=f32, intermediate_data_type=f32, compute_data_type=f32, handle=handle)

    def tensor(name, shape):
        strides = [1] * len(shape)
        for axis in range(len(shape) - 2, -1, -1):
            strides[axis] = strides[axis + 1] * shape[axis + 1]
        return graph.tensor(name=name, dim=list(shape), stride=strides, data_type=f32)

    conv = dict(padding=list(spec.padding), stride=list(spec.stride), dilation=list(spec.dilation),
                compute_data_type=f32)
    if direction == "forward":
        inputs = {"x": tensor("x", spec.input_shape), "w": tensor("w", spec.filter_shape)}
        out, shape = graph.conv_fprop(image=inputs["x"], weight=inputs["w"], **conv), spec.output_shape
    elif direction == "backward_data":
        inputs = {"dy": tensor("dy", spec.output_shape), "w": tensor("w", spec.filter_shape)}
        out, shape = graph.conv_dgrad(loss=inputs["dy"], filter=inputs["w"], **conv), spec.input_shape
    elif direction == "backward_filter":
        inputs = {"x": tensor("x", spec.input_shape), "dy": tensor("dy", spec.output_shape)}
        out, shape = graph.conv_wgrad(image=inputs["x"], loss=inputs["dy"], **conv), spec.filter_shape
    else:
        raise ConvError(f"direction must be one of {', '.join(map(repr, PASSES))}; got {direction!r}")
    out.set_output(True).set_data_type(f32).set_dim(list(shape))
    graph.validate()
    graph.build_operation_graph()
    graph.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.FALLBACK])
    keep, drop = note_filters(engine, tf32)
    if keep:
        graph.select_numeric_notes([getattr(cudnn.numerical_note, note) for note in keep])
    if drop:
        graph.deselect_numeric_notes([getattr(cudnn.numerical_note, note) for note in drop])
    return graph, inputs, out, shape


def _not_supported(cudnn) -> tuple:
    """What the frontend raises for a plan it will not build."""
    return RuntimeError, getattr(cudnn, "cudnnGraphNotSupportedError", RuntimeError)


def survey(spec, tf32: bool = False) -> dict:
    """{family: {pass: [each ranked engine as a dict], or why the frontend refused the graph}} for spec on
    this device: what cuDNN offers, enumerated, for .ci/gpu_report.py."""
    problem = frontend_problem()
    if problem:
        raise ConvError(f"algorithm='cudnn' on backend='cuda' is not available here: {problem}")
    import cudnn

    handle = cudnn.create_handle()
    found = {}
    for family in FAMILIES:
        for direction in PASSES:
            try:
                graph = pass_graph(cudnn, handle, spec, direction, family, tf32)[0]
                engines = [asdict(engine) for engine in enumerate_engines(graph, _not_supported(cudnn))]
            except _not_supported(cudnn) as err:
                engines = f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"
            found.setdefault(family, {})[direction] = engines
    return found


class CudnnEngineCUDA(CudaPlan):
    """A cuDNN engine family as a plan: forward, dgrad and wgrad each on the family's engine."""

    algorithm = "cudnn"
    takes_groups = takes_dilation = True

    def __init__(self, spec, engine: str = "implicit-gemm", tf32: bool = False, candidate: int = 0):
        problem = option_problem(engine, tf32, candidate)
        if problem:
            raise ConvError(problem)
        super().__init__(spec)
        problem = frontend_problem()
        if problem:
            raise ConvError(f"algorithm='cudnn' on backend='cuda' is not available here: {problem}")
        import cudnn

        self.engine, self.tf32, self.candidate = engine, tf32, candidate
        self._cudnn = cudnn
        self._handle = cudnn.create_handle()
        self._passes = {}
        self.ran = {}  # pass -> the name of the engine that runs it: recorded with every measurement
        self._pass("forward")

    @classmethod
    def unavailable_reason(cls) -> str:
        return frontend_problem()

    def _pass(self, direction):
        """(graph, its tensors, the engine chosen, the workspace, the output tensor, its shape) of a pass, built once."""
        if direction not in self._passes:
            what = (f"the {self.engine} family's {direction.replace('_', ' ')} pass of {self.spec} "
                    f"({'TF32' if self.tf32 else 'float32'})")
            try:
                graph, inputs, out, shape = pass_graph(self._cudnn, self._handle, self.spec, direction, self.engine,
                                                       self.tf32)
            except _not_supported(self._cudnn) as err:  # no engine at all, before any filter
                raise ConvError(f"cuDNN offers no engine for {what} ({str(err).strip()[:300]})") from None
            engine = chosen(enumerate_engines(graph, _not_supported(self._cudnn)), self.candidate, what)
            workspace = empty((max(engine.workspace_bytes, 1),), dtype=np.uint8)
            self._passes[direction] = graph, inputs, engine, workspace, out, shape
            self.ran[direction] = engine.name
        return self._passes[direction]

    def _execute(self, direction, operands, out=None):
        graph, inputs, engine, workspace, output, shape = self._pass(direction)
        out = empty(shape) if out is None else out
        pack = {inputs[name]: as_tensor(array) for name, array in operands.items()}
        pack[output] = as_tensor(out)
        graph.execute_plan_at_index(pack, as_tensor(workspace), engine.index, self._handle)
        return out

    def compute(self, x, w, out=None):
        return self._execute("forward", {"x": x, "w": w}, out)

    def _backward_data_device(self, dy, w):
        return self._execute("backward_data", {"dy": dy, "w": w})

    def _backward_filter_device(self, x, dy):
        return self._execute("backward_filter", {"x": x, "dy": dy})
