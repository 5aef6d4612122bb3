"""On a GPU machine: the cuda ratios to cuDNN, errors, times, stages and device memory, as JSON.

Needs numpy, numba(-cuda) and a CUDA torch (what the lent GPU machines have);
run by .ci/gpu-check. Each section is written to argv[1] as soon as it is
measured, so a failure later leaves what came before. Prints a table last.

- ratios: cuDNN time / our time, timed alternately in this process (data on
  the device, each call synchronized), against cuDNN in float32 (the
  semantics every algorithm here keeps) and in TF32 (torch's default).
- errors: relative L2 error of every cuda algorithm against the float64 oracle.
- times_ms, workspace_bytes: median call time; measured peak device bytes
  (torch's allocator: what the plan holds plus one call's peak rise).
- fft_stages_ms: the band-limited FFT's stages, each synchronized.
- engine_ratios: the same algorithm's cuDNN engine time / ours (measure.targets.GPU_ENGINE_RATIOS), or
  n/a with the reason when the device offers no such engine for the layer.
- cudnn_engines: per layer, every engine cuDNN ranks for each family and pass (name, workspace, or why
  it declined), at float32 and TF32; cudnn_engine_ms / cudnn_engine_errors: each forward engine that
  builds (4 a family at most), timed and checked against the float64 oracle.
"""
import json
import sys
import traceback

import convbench
from convbench.algorithms.gpu import synchronize
from convbench.measure.timing import median_seconds, on_backend, speedup, workspace_bytes
from convbench.core.oracle import reference_conv2d, relative_error
from convbench.workloads.random_inputs import random_problem
from convbench.core.errors import ConvError
from convbench.measure.targets import GPU_ENGINE_RATIOS, GPU_RATIOS, RESNET18, SPEC_7, SPEC_11, measured_speedup

import torch  # noqa: E402  (after convbench: its thread-pool settings come first)

REPEATS = 20
SPECS = {"3x3 resnet18 64@56": RESNET18["64@56"], "7x7": SPEC_7, "11x11": SPEC_11,
         **{f"3x3 resnet18 {name}": spec for name, spec in RESNET18.items() if name != "64@56"}}


def main(path):
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "repeats": REPEATS,
              "ratios": {}, "ratios_vs_tf32": {}, "errors": {}, "times_ms": {}, "workspace_bytes": {},
              "fft_stages_ms": {}, "engine_ratios": {}, "cudnn_engines": {}, "cudnn_engine_ms": {},
              "cudnn_engine_errors": {}, "failures": []}

    def section(name, fn):
        try:
            fn()
        except Exception:
            report["failures"].append({"section": name, "error": traceback.format_exc(limit=4)})
        with open(path, "w") as out:
            json.dump(report, out, indent=1)

    def ratios():
        for name, target in GPU_RATIOS.items():
            # the training passes as measured_speedup times them (dy on the device, both sides the same pass)
            report["ratios"][name] = measured_speedup(target, repeats=REPEATS)
            if target.peer == "torch" and target.passes == "forward":
                (x, w), sync = on_backend("cuda", *random_problem(target.spec))
                ours = convbench.plan(target.spec, target.algorithm, "cuda", target.compression)
                tf32 = convbench.plan(target.spec, "torch", "cuda", tf32=True)
                report["ratios_vs_tf32"][name] = speedup(lambda: ours(x, w), lambda: tf32(x, w),
                                                         repeats=REPEATS, sync=sync)

    def per_algorithm():
        for label, spec in SPECS.items():
            host_x, host_w = random_problem(spec)
            oracle = reference_conv2d(host_x, host_w, spec.padding, spec.stride)
            (x, w), sync = on_backend("cuda", host_x, host_w)
            cases = [("direct", 0.0, {}), ("winograd", 0.0, {}), ("winograd F(4x4,3x3)", 0.0, {}), ("fft", 0.0, {}),
                     ("fft", 0.5, {}), ("fft tile 16", 0.0, {}), ("torch", 0.0, {}), ("torch", 0.0, {"tf32": True})]
            for algorithm, compression, options in cases:
                if not convbench.interface.registry.supports(algorithm, "cuda", spec):
                    continue
                key = f"{algorithm}{' tf32' if options else ''} c={compression} {label}"

                def build():
                    return convbench.plan(spec, algorithm, "cuda", compression, **options)

                plan = build()
                report["errors"][key] = relative_error(plan(host_x, host_w), oracle)
                report["times_ms"][key] = 1e3 * median_seconds(lambda: plan(x, w), repeats=REPEATS, sync=sync)
                report["workspace_bytes"][key] = workspace_bytes(build, x, w, device=True)

    def fft_stages():
        for label, spec in (("7x7", SPEC_7), ("11x11", SPEC_11)):
            for compression in (0.0, 0.5):
                (x, w), sync = on_backend("cuda", *random_problem(spec))
                plan = convbench.plan(spec, "fft", "cuda", compression)
                stages = plan.stages(x, w)
                report["fft_stages_ms"][f"c={compression} {label}"] = {
                    stage: 1e3 * median_seconds(run, repeats=REPEATS, sync=synchronize)
                    for stage, run in stages.items()}

    def engine_ratios():
        for name, target in GPU_ENGINE_RATIOS.items():
            try:
                report["engine_ratios"][name] = measured_speedup(target, repeats=REPEATS)
            except ConvError as err:
                report["engine_ratios"][name] = f"n/a: {err}"

    def cudnn_engines():
        from convbench.algorithms.peers.cudnn_engines import FAMILIES, survey

        for label, spec in SPECS.items():
            report["cudnn_engines"][label] = {"float32": survey(spec), "tf32": survey(spec, tf32=True)}
            host_x, host_w = random_problem(spec)
            oracle = reference_conv2d(host_x, host_w, spec.padding, spec.stride)
            (x, w), sync = on_backend("cuda", host_x, host_w)
            for family in FAMILIES:
                offered = report["cudnn_engines"][label]["float32"][family]["forward"]
                built = [] if isinstance(offered, str) else [e for e in offered if not e["why_not"]]
                for candidate, engine in enumerate(built[:4]):
                    plan = convbench.plan(spec, f"cudnn {family}", "cuda", candidate=candidate)
                    key = f"{family} {engine['name']} {label}"
                    report["cudnn_engine_errors"][key] = relative_error(plan(host_x, host_w), oracle)
                    report["cudnn_engine_ms"][key] = 1e3 * median_seconds(lambda: plan(x, w), repeats=REPEATS,
                                                                          sync=sync)

    section("ratios", ratios)
    section("engine ratios", engine_ratios)
    section("cudnn engines", cudnn_engines)
    section("per algorithm", per_algorithm)
    section("fft stages", fft_stages)

    print(f"device: {report['device']}")
    print(f"{'ratio (cuDNN time / ours)':40} {'fp32':>7} {'tf32':>7}")
    for name, value in report["ratios"].items():
        print(f"{name:40} {value:7.2f} {report['ratios_vs_tf32'].get(name, float('nan')):7.2f}")
    print(f"{'case':38} {'error':>9} {'ms':>8} {'MiB':>8}")
    for key, error in report["errors"].items():
        print(f"{key:38} {error:9.2e} {report['times_ms'].get(key, float('nan')):8.3f} "
              f"{report['workspace_bytes'].get(key, 0) / 2**20:8.1f}")
    for name, value in report["engine_ratios"].items():
        print(f"{name:50} {value:7.2f}" if isinstance(value, float) else f"{name:50} {value[:120]}")
    for key, ms in report["cudnn_engine_ms"].items():
        print(f"cudnn {key:60} {ms:8.3f} ms  error {report['cudnn_engine_errors'][key]:9.2e}")
    for key, stages in report["fft_stages_ms"].items():
        print(f"fft stages {key}: " + ", ".join(f"{stage} {ms:.3f}" for stage, ms in stages.items()))
    for failure in report["failures"]:
        print(f"FAILED {failure['section']}:\n{failure['error']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gpu_report.json")
