"""On a GPU machine: time each cuda kernel's block and tile options on a small grid, as JSON.

Run by .ci/gpu-check (its tuning step): python -m convbench.measure.gpu_tune OUT.json. For every layer and
option set it records the median wall time of a call (data on the device,
synchronized, what the suites time), the median device time between two
CUDA events (what the GPU itself spent, launch gaps included), and the
relative error against cuDNN in float32, so that a fast but wrong tiling
cannot win. Yardsticks on the same layers: cuDNN in float32 and in TF32, and
cuBLAS (torch.bmm) on the Winograd GEMM's shapes. Writes argv[1]; prints the
best option set per algorithm and layer last.
"""
import itertools
import json
import statistics
import sys
import time
import traceback

from convbench.interface.api import plan as make_plan
from convbench.algorithms.gpu import as_tensor
from convbench.measure.timing import on_backend
from convbench.workloads.random_inputs import random_problem
from convbench.measure.targets import RESNET18, SPEC_7, SPEC_11

import torch  # noqa: E402  (after convbench: its thread-pool settings come first)

REPEATS = 15
LAYERS_3X3 = {f"resnet18 {name}": spec for name, spec in RESNET18.items()}
LAYERS_BIG = {"7x7 N=8 C=K=64 56": SPEC_7, "11x11 N=8 C=K=64 56": SPEC_11}

GRIDS = {
    "direct": {
        "layers": {"resnet18 64@56": RESNET18["64@56"], "resnet18 512@7": RESNET18["512@7"], **LAYERS_BIG},
        "options": [{}] + [dict(tile=t, k_per_thread=k)
                           for t, k in itertools.product([(16, 16), (8, 16), (8, 32), (4, 32)], [4, 8, 16])],
    },
    "winograd": {
        "layers": LAYERS_3X3,
        "options": [{}] + [dict(gemm_tile=t, gemm_rows_per_thread=r)
                           for t, r in itertools.product([16, 32, 64], [2, 4, 8]) if t * t // r <= 1024],
    },
    "fft": {
        "layers": {"resnet18 64@56": RESNET18["64@56"], **LAYERS_BIG},
        "options": [{}] + [dict(n_per_thread=n, block=b) for n, b in itertools.product([1, 2, 4, 8], [128, 256, 512])],
    },
}


def timings(fn, repeats=REPEATS):
    """(median wall seconds with a synchronize, median CUDA-event seconds) of fn()."""
    fn()
    torch.cuda.synchronize()
    walls, events = [], []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0 = time.perf_counter()
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        walls.append(time.perf_counter() - t0)
        events.append(start.elapsed_time(end) / 1e3)
    return statistics.median(walls), statistics.median(events)


def relative_error(result, reference) -> float:
    result, reference = as_tensor(result).double(), reference.double()
    return float((result - reference).norm() / reference.norm())


def main(path):
    report = {"device": torch.cuda.get_device_name(), "repeats": REPEATS, "cases": [], "failures": []}

    def save():
        with open(path, "w") as out:
            json.dump(report, out, indent=1)

    problems = {}

    def problem(spec):
        if spec not in problems:
            (x, w), _ = on_backend("cuda", *random_problem(spec))
            reference = as_tensor(make_plan(spec, "torch", "cuda")(x, w)).clone()
            problems[spec] = x, w, reference
        return problems[spec]

    # yardsticks: cuDNN in float32 and TF32 on every layer tuned
    layers = {name: spec for grid in GRIDS.values() for name, spec in grid["layers"].items()}
    for name, spec in layers.items():
        x, w, reference = problem(spec)
        for tf32 in (False, True):
            plan = make_plan(spec, "torch", "cuda", tf32=tf32)
            wall, event = timings(lambda: plan(x, w))
            report["cases"].append(dict(algorithm="torch", layer=name, options={"tf32": tf32}, wall_ms=1e3 * wall,
                                        event_ms=1e3 * event, error=relative_error(plan(x, w), reference)))
    # cuBLAS on the Winograd GEMM: 16 (K x C)(C x tiles) products
    for name, spec in LAYERS_3X3.items():
        tiles = spec.N * -(-spec.P // 2) * -(-spec.Q // 2)
        U = torch.randn(16, spec.K, spec.C, device="cuda")
        V = torch.randn(16, spec.C, tiles, device="cuda")
        saved = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        wall, event = timings(lambda: torch.bmm(U, V))
        torch.backends.cuda.matmul.allow_tf32 = saved
        report["cases"].append(dict(algorithm="cublas winograd gemm", layer=name, options={}, wall_ms=1e3 * wall,
                                    event_ms=1e3 * event, error=None))
    save()

    for algorithm, grid in GRIDS.items():
        for (name, spec), options in itertools.product(grid["layers"].items(), grid["options"]):
            try:
                x, w, reference = problem(spec)
                plan = make_plan(spec, algorithm, "cuda", **options)
                wall, event = timings(lambda: plan(x, w))
                error = relative_error(plan(x, w), reference)
                report["cases"].append(dict(algorithm=algorithm, layer=name, options=options, wall_ms=1e3 * wall,
                                            event_ms=1e3 * event, error=error))
            except Exception:  # one bad tiling must not end the grid
                report["failures"].append(dict(algorithm=algorithm, layer=name, options=options,
                                               error=traceback.format_exc(limit=3)))
        save()

    print(f"{'algorithm':10} {'layer':22} {'best options':44} {'wall ms':>8} {'event ms':>8} {'default ms':>10} {'cudnn fp32':>10}")
    for algorithm, grid in GRIDS.items():
        for name in grid["layers"]:
            cases = [c for c in report["cases"] if c["algorithm"] == algorithm and c["layer"] == name
                     and c["error"] is not None and c["error"] < 1e-4]
            if not cases:
                continue
            best = min(cases, key=lambda c: c["wall_ms"])
            default = next((c for c in cases if c["options"] == {}), None)  # the plan's defaults
            cudnn = next(c for c in report["cases"] if c["algorithm"] == "torch" and c["layer"] == name
                         and not c["options"]["tf32"])
            print(f"{algorithm:10} {name:22} {json.dumps(best['options']):44} {best['wall_ms']:8.3f} "
                  f"{best['event_ms']:8.3f} {default['wall_ms'] if default else float('nan'):10.3f} {cudnn['wall_ms']:10.3f}")
    print(f"{len(report['failures'])} option sets failed")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gpu_tune.json")
