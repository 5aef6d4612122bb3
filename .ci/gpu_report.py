"""On a GPU machine: the cuda ratios to cuDNN and measured device memory, as JSON.

Needs only numpy, numba(-cuda) and a CUDA torch (what the lent GPU machines
have); run by .ci/gpu-check. Prints the JSON and writes it to argv[1].
"""
import json
import sys

import convbench
from algorithms.gpu import on_backend
from convbench.measure import median_seconds, workspace_bytes
from convbench.signals import random_problem
from convbench.targets import GPU_RATIOS, measured_speedup

report = {"device": None, "ratios": {}, "times_ms": {}, "workspace_bytes": {}}
import torch  # noqa: E402  (after convbench: its thread-pool settings come first)

report["device"] = torch.cuda.get_device_name()
for name, target in GPU_RATIOS.items():
    report["ratios"][name] = measured_speedup(target, repeats=20)
seen = set()
for target in GPU_RATIOS.values():
    for algorithm, compression in ((target.algorithm, target.compression), (target.peer, target.peer_compression)):
        key = f"{algorithm} c={compression} {target.spec}"
        if key in seen:
            continue
        seen.add(key)
        (x, w), sync = on_backend("cuda", *random_problem(target.spec))
        plan = convbench.plan(target.spec, algorithm, "cuda", compression)
        report["times_ms"][key] = 1e3 * median_seconds(lambda: plan(x, w), repeats=20, sync=sync)
        report["workspace_bytes"][key] = workspace_bytes(
            lambda: convbench.plan(target.spec, algorithm, "cuda", compression), x, w, device=True)
text = json.dumps(report, indent=1)
print(text)
if len(sys.argv) > 1:
    with open(sys.argv[1], "w") as out:
        out.write(text)
