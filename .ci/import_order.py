"""Does the order of `import numpy`, `import torch` and `import convbench` change a measurement?

Runs the same measurement (ResNet-18 64@56, N=8: torch's time, and Winograd's
time over torch's, timed alternately, medians of 40) in fresh interpreters
that differ only in import order, interleaved, `--runs` times each, and prints
the median over runs for each order. Usage: python .ci/import_order.py [--runs 5]
"""
import argparse
import statistics
import subprocess
import sys

ORDERS = {"numpy, torch, convbench": "import numpy as np\nimport torch\nimport convbench\n",
          "convbench, numpy, torch": "import convbench\nimport numpy as np\nimport torch\n"}

BODY = """
import statistics, time
spec = convbench.ConvSpec(N=8, C=64, H=56, W=56, K=64, R=3, S=3, padding=1)
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, spec.input_shape).astype(np.float32)
w = rng.uniform(-1, 1, spec.filter_shape).astype(np.float32)
plans = {"winograd": convbench.plan(spec, "winograd"), "torch": convbench.plan(spec, "torch")}
times = {name: [] for name in plans}
for plan in plans.values():
    plan(x, w)
for _ in range(40):
    for name, plan in plans.items():
        start = time.perf_counter()
        plan(x, w)
        times[name].append(time.perf_counter() - start)
print(statistics.median(times["torch"]), statistics.median(times["winograd"]))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    found = {order: [] for order in ORDERS}
    for _ in range(runs):
        for order, imports in ORDERS.items():
            out = subprocess.run([sys.executable, "-c", imports + BODY], capture_output=True, text=True, check=True)
            torch_s, winograd_s = map(float, out.stdout.split())
            found[order].append((torch_s, winograd_s / torch_s))
    for order, samples in found.items():
        torch_ms = [1e3 * t for t, _ in samples]
        ratios = [r for _, r in samples]
        print(f"{order:26} torch {statistics.median(torch_ms):6.2f} ms (runs {min(torch_ms):.2f}-{max(torch_ms):.2f})"
              f"   winograd/torch time {statistics.median(ratios):.2f} (runs {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
