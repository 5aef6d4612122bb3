"""fp32 GEMMs on oneDNN 2's matmul primitive (Debian's libdnnl2, through ctypes), for blas.py.

oneDNN picks its kernels by the instructions the CPU has, not by its vendor: on an AMD CPU with AVX-512
its brgemm matmul runs AVX-512 code where torch's MKL takes its AVX2 path, and ran every GEMM shape of our
algorithms measured faster (results/records/implementation-choices.json, row gemms-on-onednn2-matmul).
Loaded after torch, libdnnl binds to torch's libgomp: one OpenMP pool, whose thread count oneDNN reads
when a primitive is created, so that count is part of a primitive's key.

A primitive is made once per geometry (shapes, strides, accumulate or not) and kept; each thread keeps its
own, with its own memory objects, since a call points those at its arrays before it runs, and its own
stream, which oneDNN does not promise to be safe from two threads at once. Operands are
described by their strides, so a transposed view is read in place. A geometry oneDNN 2 cannot run, or runs
only on its reference kernel, is remembered as such and returned to the caller to run elsewhere.
"""
from __future__ import annotations

import ctypes
import threading
import weakref

import torch

from .peers import dnnl_library as library

MATMUL_DESC_BYTES = 4096  # >= sizeof(dnnl_matmul_desc_t) = 2800 in 2.6.3 (read with gcc from its headers)
SOURCE, WEIGHTS, DESTINATION = 1, 33, 17  # DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST

_per_thread = threading.local()


def problem() -> str:
    """Why oneDNN 2's matmul cannot run here ('' when it can)."""
    return library.library_problem()


def instruction_set() -> str:
    return library.instruction_set()


def _desc(tensor: torch.Tensor):
    lib = library._loaded()[0]
    desc = ctypes.create_string_buffer(library.MEMORY_DESC_BYTES)
    library._check(lib.dnnl_memory_desc_init_by_strides(desc, tensor.dim(), library.Dims(*tensor.shape), library.F32,
                                                        library.Dims(*tensor.stride())), "memory descriptor")
    return desc


class _Primitive:
    """One matmul geometry's primitive and the three memory objects its calls point at their arrays."""

    def __init__(self, state: "_ThreadState", a: torch.Tensor, b: torch.Tensor, out: torch.Tensor, accumulate: bool):
        lib, engine = state.lib, state.engine
        self._lib, self._stream, self._owned = lib, state.stream, []
        weakref.finalize(self, library._release, lib, self._owned)
        descs = [_desc(t) for t in (a, b, out)]
        op = ctypes.create_string_buffer(MATMUL_DESC_BYTES)
        library._check(lib.dnnl_matmul_desc_init(op, descs[0], descs[1], None, descs[2]), "matmul descriptor")
        attr = None
        if accumulate:  # out += a @ b: the sum post-op adds what out held
            attr, post_ops = library.P(), library.P()
            library._check(lib.dnnl_primitive_attr_create(ctypes.byref(attr)), "attributes")
            self._owned.append(("dnnl_primitive_attr_destroy", attr))
            library._check(lib.dnnl_post_ops_create(ctypes.byref(post_ops)), "post-ops")
            self._owned.append(("dnnl_post_ops_destroy", post_ops))
            library._check(lib.dnnl_post_ops_append_sum(post_ops, 1.0), "sum post-op")
            library._check(lib.dnnl_primitive_attr_set_post_ops(attr, post_ops), "post-ops")
        pd = library.P()
        library._check(lib.dnnl_primitive_desc_create(ctypes.byref(pd), op, attr, engine, None), "matmul")
        self._owned.append(("dnnl_primitive_desc_destroy", pd))
        self.implementation = library.implementation(pd)
        if library.is_reference(self.implementation):
            raise library.ConvError(f"oneDNN runs this matmul on its reference kernel {self.implementation!r}")
        self._primitive = library.create_primitive(pd, self._owned)
        self._memories = [library.create_memory(desc, None, self._owned) for desc in descs]
        self._arguments = (library._Argument * 3)(*[library._Argument(which, memory) for which, memory
                                                    in zip((SOURCE, WEIGHTS, DESTINATION), self._memories)])

    def __call__(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
        lib = self._lib
        for memory, tensor in zip(self._memories, (a, b, out)):
            lib.dnnl_memory_set_data_handle(memory, tensor.data_ptr())
        library._check(lib.dnnl_primitive_execute(self._primitive, self._stream, 3, self._arguments), "matmul")
        lib.dnnl_stream_wait(self._stream)


class _ThreadState:
    """One thread's stream and primitives, for one loaded library: a reload (a test clears the loader's cache)
    brings a new engine, on which the old stream and primitives cannot run, so the thread starts afresh."""

    def __init__(self, lib, engine):
        self.lib, self.engine = lib, engine
        self.stream = library.P()
        library._check(lib.dnnl_stream_create(ctypes.byref(self.stream), engine, 1), "stream")
        weakref.finalize(self, lib.dnnl_stream_destroy, self.stream)
        self.primitives: dict = {}


def _thread_state() -> _ThreadState:
    lib, engine = library._loaded()[:2]
    state = getattr(_per_thread, "state", None)
    if state is None or state.engine.value != engine.value:
        state = _per_thread.state = _ThreadState(lib, engine)
    return state


def _same_rank(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor):
    """a, b and out with out's rank: leading dimensions of 1 where a or b has fewer (matmul's broadcast)."""
    rank = out.dim()
    return [t.reshape((1,) * (rank - t.dim()) + tuple(t.shape)) if t.dim() < rank else t for t in (a, b)]


def matmul(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor, accumulate: bool = False) -> bool:
    """out = a @ b (out += a @ b with accumulate) on oneDNN 2 for float32 CPU tensors of 2 or more
    dimensions, batch dimensions equal or 1 in a and b; True when it ran, False when oneDNN 2 cannot run
    this geometry, or the library is missing (the caller runs it elsewhere)."""
    if problem() or out.dim() < 2 or a.dim() > out.dim() or b.dim() > out.dim():
        return False
    a, b = _same_rank(a, b, out)
    key = (tuple(a.shape), a.stride(), tuple(b.shape), b.stride(), tuple(out.shape), out.stride(), accumulate,
           torch.get_num_threads())
    state = _thread_state()
    primitive = state.primitives.get(key, ())
    if primitive == ():
        try:
            primitive = _Primitive(state, a, b, out, accumulate)
        except library.ConvError:
            primitive = None
        state.primitives[key] = primitive
    if primitive is None:
        return False
    primitive(a, b, out)
    return True


class OneThreadMatmul:
    """A matmul primitive made for one thread, with a stream and memory objects of its own, for a Numba
    parallel region to run on one of its threads (winograd/by_threads.py): oneDNN reads the thread count
    when it makes a primitive, so this one never opens a team of its own. `handles` holds what the region
    passes to libdnnl's calls, as integers: (primitive, stream, memory of a, of b, of out, the argument
    list). accumulate: out += a @ b."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor, accumulate: bool = False):
        lib, engine = library._loaded()[:2]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self._state = _ThreadState(lib, engine)
            self._primitive = _Primitive(self._state, *_same_rank(a, b, out), out, accumulate)
        finally:
            torch.set_num_threads(threads)
        self.handles = (self._primitive._primitive.value, self._state.stream.value,
                        *[memory.value for memory in self._primitive._memories],
                        ctypes.addressof(self._primitive._arguments))

