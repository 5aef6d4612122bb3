"""oneDNN 2.x's C API (Debian's libdnnl2) through ctypes: one convolution pass as a primitive, with the
reorders between plain NCHW / OIHW arrays and the layouts its kernel picked.

Loaded lazily and after torch: torch's wheel carries its own libgomp.so.1, and a libdnnl loaded after it
binds to that one (one OpenMP runtime in the process; oneDNN reads its thread count, torch's, when a
primitive is created). A missing library is a reason, never an import error.

The descriptor structs are opaque here: ctypes hands oneDNN buffers at least as large as
sizeof(dnnl_memory_desc_t) = 696 and sizeof(dnnl_convolution_desc_t) = 5976 in 2.6.3 (read with gcc
from its headers), so the library writes only into memory it was given.
"""
from __future__ import annotations

import ctypes
import weakref
from functools import lru_cache

from convbench.core.errors import ConvError

SONAME = "libdnnl.so.2"
INSTALL = "apt-get install libdnnl2 (Debian's oneDNN 2.6; .ci/setup does it as root)"
MEMORY_DESC_BYTES = 1024       # >= 696
CONVOLUTION_DESC_BYTES = 8192  # >= 5976
Dims = ctypes.c_int64 * 12     # dnnl_dims_t
P = ctypes.c_void_p

F32, FORMAT_ANY, ABCD, ABCDE = 3, 1, 5, 7  # dnnl_f32; format tags any, nchw/oihw, goihw
FORWARD_TRAINING, BACKWARD_DATA, BACKWARD_WEIGHTS = 64, 160, 192
KINDS = {"direct": 0x1, "winograd": 0x2}   # dnnl_convolution_direct, dnnl_convolution_winograd
QUERY_IMPLEMENTATION = 8                    # dnnl_query_impl_info_str
QUERY = {"src": 129, "diff_src": 130, "weights": 131, "diff_weights": 132, "dst": 133, "diff_dst": 134}
ARGUMENT = {"src": 1, "dst": 17, "weights": 33, "diff_src": 129, "diff_dst": 145, "diff_weights": 161}
FROM, TO = 1, 17
ALLOCATE = P(2**64 - 1)                     # DNNL_MEMORY_ALLOCATE
STATUS = {1: "out of memory", 2: "invalid arguments", 3: "unimplemented", 5: "runtime error", 6: "not required"}
ISA = {0x1: "sse41", 0x3: "avx", 0x7: "avx2", 0xf: "avx512_mic", 0x1f: "avx512_mic_4ops", 0x27: "avx512_core",
       0x67: "avx512_core_vnni", 0xe7: "avx512_core_bf16", 0x3e7: "avx512_core_amx", 0x407: "avx2_vnni"}


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint), ("gpu_runtime", ctypes.c_uint)]


class _Argument(ctypes.Structure):  # dnnl_exec_arg_t
    _fields_ = [("arg", ctypes.c_int), ("memory", P)]


def _declare(lib) -> None:
    signatures = {
        "dnnl_version": ([], ctypes.POINTER(_Version)),
        "dnnl_get_effective_cpu_isa": ([], ctypes.c_int),
        "dnnl_engine_create": ([ctypes.POINTER(P), ctypes.c_int, ctypes.c_size_t], ctypes.c_int),
        "dnnl_stream_create": ([ctypes.POINTER(P), P, ctypes.c_uint], ctypes.c_int),
        "dnnl_stream_wait": ([P], ctypes.c_int),
        "dnnl_stream_destroy": ([P], ctypes.c_int),
        "dnnl_memory_desc_init_by_tag": ([P, ctypes.c_int, Dims, ctypes.c_int, ctypes.c_int], ctypes.c_int),
        "dnnl_memory_desc_equal": ([P, P], ctypes.c_int),
        "dnnl_memory_desc_init_by_strides": ([P, ctypes.c_int, Dims, ctypes.c_int, Dims], ctypes.c_int),
        "dnnl_matmul_desc_init": ([P, P, P, P, P], ctypes.c_int),
        "dnnl_primitive_attr_create": ([ctypes.POINTER(P)], ctypes.c_int),
        "dnnl_primitive_attr_set_post_ops": ([P, P], ctypes.c_int),
        "dnnl_primitive_attr_destroy": ([P], ctypes.c_int),
        "dnnl_post_ops_create": ([ctypes.POINTER(P)], ctypes.c_int),
        "dnnl_post_ops_append_sum": ([P, ctypes.c_float], ctypes.c_int),
        "dnnl_post_ops_destroy": ([P], ctypes.c_int),
        "dnnl_dilated_convolution_forward_desc_init": (
            [P, ctypes.c_int, ctypes.c_int, P, P, P, P, Dims, Dims, Dims, Dims], ctypes.c_int),
        "dnnl_dilated_convolution_backward_data_desc_init": (
            [P, ctypes.c_int, P, P, P, Dims, Dims, Dims, Dims], ctypes.c_int),
        "dnnl_dilated_convolution_backward_weights_desc_init": (
            [P, ctypes.c_int, P, P, P, P, Dims, Dims, Dims, Dims], ctypes.c_int),
        "dnnl_primitive_desc_create": ([ctypes.POINTER(P), P, P, P, P], ctypes.c_int),
        "dnnl_primitive_desc_query": ([P, ctypes.c_int, ctypes.c_int, P], ctypes.c_int),
        "dnnl_primitive_desc_query_md": ([P, ctypes.c_int, ctypes.c_int], P),
        "dnnl_primitive_desc_destroy": ([P], ctypes.c_int),
        "dnnl_reorder_primitive_desc_create": ([ctypes.POINTER(P), P, P, P, P, P], ctypes.c_int),
        "dnnl_primitive_create": ([ctypes.POINTER(P), P], ctypes.c_int),
        "dnnl_primitive_execute": ([P, P, ctypes.c_int, ctypes.POINTER(_Argument)], ctypes.c_int),
        "dnnl_primitive_destroy": ([P], ctypes.c_int),
        "dnnl_memory_create": ([ctypes.POINTER(P), P, P, P], ctypes.c_int),
        "dnnl_memory_set_data_handle": ([P, P], ctypes.c_int),
        "dnnl_memory_destroy": ([P], ctypes.c_int),
    }
    for name, (arguments, result) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = arguments, result


@lru_cache(maxsize=1)
def _loaded():
    """(library, engine, stream, '') or (None, None, None, why not)."""
    import torch  # noqa: F401  first: its libgomp is the one libdnnl binds to

    try:
        lib = ctypes.CDLL(SONAME)
        _declare(lib)
    except (OSError, AttributeError) as err:
        return None, None, None, f"{SONAME} cannot be loaded ({INSTALL}): {err}"
    version = lib.dnnl_version().contents
    if version.major != 2:
        return None, None, None, (f"{SONAME} is oneDNN {version.major}.{version.minor}; expected 2.x, the last "
                                  f"with x64 Winograd kernels")
    engine, stream = P(), P()
    if lib.dnnl_engine_create(ctypes.byref(engine), 1, 0) or lib.dnnl_stream_create(ctypes.byref(stream), engine, 1):
        return None, None, None, f"{SONAME} cannot create a CPU engine"
    return lib, engine, stream, ""


def library_problem() -> str:
    """Why oneDNN 2 cannot run here ('' when it can)."""
    return _loaded()[3]


def version() -> str:
    lib = _loaded()[0]
    found = lib.dnnl_version().contents
    return f"{found.major}.{found.minor}.{found.patch}"


def instruction_set() -> str:
    """The instruction set oneDNN's kernels use on this CPU ('avx2', 'avx512_core', ...)."""
    code = _loaded()[0].dnnl_get_effective_cpu_isa()
    return ISA.get(code, hex(code))


def is_reference(implementation: str) -> bool:
    """Whether oneDNN's implementation string names a reference kernel (plain C loops, 'ref:any',
    'gemm:ref'): not the algorithm as oneDNN ships it fast, so never measured as it."""
    return any(part == "ref" or part.startswith("ref_") for part in implementation.replace(":", " ").split())


def _check(status: int, what: str) -> None:
    if status:
        raise ConvError(f"oneDNN {what} failed: {STATUS.get(status, status)}")


def _memory_desc(shape, tag: int):
    desc = ctypes.create_string_buffer(MEMORY_DESC_BYTES)
    _check(_loaded()[0].dnnl_memory_desc_init_by_tag(desc, len(shape), Dims(*shape), F32, tag), "memory descriptor")
    return desc


def _shapes(spec) -> dict:
    """The plain NCHW / OIHW (GOIHW with groups) shape of each operand."""
    g = spec.groups
    weights = spec.filter_shape if g == 1 else (g, spec.K // g, spec.C // g, spec.R, spec.S)
    return {"src": spec.input_shape, "weights": weights, "dst": spec.output_shape}


def convolution_desc(spec, direction: str, kind: str):
    """The op descriptor of one pass of spec, its operands' layouts left to the kernel (format any)."""
    lib = _loaded()[0]
    shapes = _shapes(spec)
    anywhere = {name: _memory_desc(shape, FORMAT_ANY) for name, shape in shapes.items()}
    geometry = (Dims(*spec.stride), Dims(spec.dil_h - 1, spec.dil_w - 1), Dims(*spec.padding), Dims(*spec.padding))
    desc = ctypes.create_string_buffer(CONVOLUTION_DESC_BYTES)
    if direction == "forward":
        status = lib.dnnl_dilated_convolution_forward_desc_init(desc, FORWARD_TRAINING, KINDS[kind], anywhere["src"],
                                                                anywhere["weights"], None, anywhere["dst"], *geometry)
    elif direction == "backward_data":
        status = lib.dnnl_dilated_convolution_backward_data_desc_init(desc, KINDS[kind], anywhere["src"],
                                                                      anywhere["weights"], anywhere["dst"], *geometry)
    else:
        status = lib.dnnl_dilated_convolution_backward_weights_desc_init(desc, KINDS[kind], anywhere["src"],
                                                                         anywhere["weights"], None, anywhere["dst"],
                                                                         *geometry)
    _check(status, f"{direction} descriptor")
    return desc


# each pass: (the operands it reads, the operand it writes), by oneDNN's argument names
OPERANDS = {"forward": (("src", "weights"), "dst"), "backward_data": (("diff_dst", "weights"), "diff_src"),
            "backward_weights": (("src", "diff_dst"), "diff_weights")}


class Pass:
    """One pass of a convolution as oneDNN runs it: the primitive its first-choice implementation gives,
    and reorders from and to plain arrays where that implementation wants other layouts.

    Raises ConvError when oneDNN has no implementation, or only a reference one."""

    def __init__(self, spec, direction: str, kind: str, hint: "Pass | None" = None):
        lib, engine, self._stream, problem = _loaded()
        if problem:
            raise ConvError(problem)
        self._lib = lib
        desc = convolution_desc(spec, direction, kind)
        pd = P()
        status = lib.dnnl_primitive_desc_create(ctypes.byref(pd), desc, None, engine, hint.pd if hint else None)
        if status:
            raise ConvError(f"oneDNN {version()} has no {kind} implementation of the {direction} pass of {spec} on "
                            f"this CPU ({instruction_set()}): {STATUS.get(status, status)}")
        self.pd, self._owned = pd, [("dnnl_primitive_desc_destroy", pd)]
        weakref.finalize(self, _release, lib, self._owned)
        self.implementation = implementation(pd)
        if is_reference(self.implementation):
            raise ConvError(f"oneDNN {version()} runs the {direction} pass of {spec} on its reference kernel "
                            f"{self.implementation!r} only: not measured as {kind} convolution")
        self._primitive = self._create(pd)
        plain = {name: _memory_desc(shape, ABCDE if len(shape) == 5 else ABCD) for name, shape in _shapes(spec).items()}
        plain.update(diff_src=plain["src"], diff_dst=plain["dst"], diff_weights=plain["weights"])
        reads, writes = OPERANDS[direction]
        self._user, self._before, self._after, arguments = {}, [], [], []
        for name in (*reads, writes):
            wanted = lib.dnnl_primitive_desc_query_md(pd, QUERY[name], 0)
            self._user[name] = self._memory(plain[name], None)
            if lib.dnnl_memory_desc_equal(wanted, plain[name]):
                arguments.append((ARGUMENT[name], self._user[name]))
                continue
            inner = self._memory(wanted, ALLOCATE)
            arguments.append((ARGUMENT[name], inner))
            if name == writes:
                self._after.append(self._reorder(self._user[name], plain[name], inner, wanted, outgoing=True))
            else:
                self._before.append(self._reorder(self._user[name], plain[name], inner, wanted, outgoing=False))
        self._arguments = (_Argument * len(arguments))(*[_Argument(a, m) for a, m in arguments])
        self._reads, self._writes = reads, writes

    def _create(self, pd):
        return create_primitive(pd, self._owned)

    def _memory(self, desc, handle):
        return create_memory(desc, handle, self._owned)

    def _reorder(self, user, user_desc, inner, inner_desc, outgoing: bool):
        """(primitive, its two arguments): a layout change between the plain array and the kernel's."""
        engine = _loaded()[1]
        source, target = ((inner, inner_desc), (user, user_desc)) if outgoing else ((user, user_desc), (inner, inner_desc))
        pd = P()
        _check(self._lib.dnnl_reorder_primitive_desc_create(ctypes.byref(pd), source[1], engine, target[1], engine, None),
               "reorder")
        self._owned.append(("dnnl_primitive_desc_destroy", pd))
        arguments = (_Argument * 2)(_Argument(FROM, source[0]), _Argument(TO, target[0]))
        return self._create(pd), arguments

    def __call__(self, *arrays) -> None:
        """Run the pass on C-contiguous float32 arrays: the operands it reads, then the one it writes."""
        lib = self._lib
        for name, array in zip((*self._reads, self._writes), arrays):
            lib.dnnl_memory_set_data_handle(self._user[name], array.ctypes.data)
        for primitive, arguments in self._before:
            _check(lib.dnnl_primitive_execute(primitive, self._stream, 2, arguments), "reorder")
        _check(lib.dnnl_primitive_execute(self._primitive, self._stream, len(self._arguments), self._arguments),
               "execution")
        for primitive, arguments in self._after:
            _check(lib.dnnl_primitive_execute(primitive, self._stream, 2, arguments), "reorder")
        lib.dnnl_stream_wait(self._stream)


def implementation(pd) -> str:
    """The name of the kernel a primitive descriptor chose (dnnl_query_impl_info_str)."""
    name = ctypes.c_char_p()
    _check(_loaded()[0].dnnl_primitive_desc_query(pd, QUERY_IMPLEMENTATION, 0, ctypes.byref(name)),
           "implementation query")
    return name.value.decode()


def create_primitive(pd, owned: list):
    """The primitive of pd; owned (released in reverse by _release) gets it."""
    primitive = P()
    _check(_loaded()[0].dnnl_primitive_create(ctypes.byref(primitive), pd), "primitive creation")
    owned.append(("dnnl_primitive_destroy", primitive))
    return primitive


def create_memory(desc, handle, owned: list):
    """A memory object of desc on the CPU engine, over handle (None: pointed at an array before each
    call; ALLOCATE: oneDNN's own); owned gets it."""
    memory = P()
    _check(_loaded()[0].dnnl_memory_create(ctypes.byref(memory), desc, _loaded()[1], handle), "memory creation")
    owned.append(("dnnl_memory_destroy", memory))
    return memory


def _release(lib, owned) -> None:
    for destroy, handle in reversed(owned):
        getattr(lib, destroy)(handle)
