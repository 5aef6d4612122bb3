"""Does the order of imports, or which side runs first, change a measurement?

Runs the same measurement (a variant's time over torch's, timed alternately,
medians of 40; default Winograd F(2x2) on ResNet-18 64@56, N=8) in fresh
interpreters that differ only in import order and in which of the two runs
first in each round, interleaved, `--runs` times each, and prints the median
over runs for each setting.

Usage: .venv/bin/python -m convbench.measure.import_order [--runs 5] [--variant "fft tile 16"] [--filter 7]
(--filter k: the N=8 C=K=64 56x56 layer with k x k filters, valid; default 3: ResNet-18's 64@56, padding 1)
"""
import argparse
import statistics
import subprocess
import sys

ORDERS = {"numpy, torch, convbench": "import numpy as np\nimport torch\nimport convbench\n",
          "convbench, numpy, torch": "import convbench\nimport numpy as np\nimport torch\n"}

BODY = """
import statistics, time
k = {k}
spec = convbench.ConvSpec(N=8, C=64, H=56, W=56, K=64, R=k, S=k, padding=1 if k == 3 else 0)
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, spec.input_shape).astype(np.float32)
w = rng.uniform(-1, 1, spec.filter_shape).astype(np.float32)
plans = {{"variant": convbench.plan(spec, {variant!r}), "torch": convbench.plan(spec, "torch")}}
order = ["torch", "variant"] if {torch_first} else ["variant", "torch"]
times = {{name: [] for name in plans}}
for plan in plans.values():
    plan(x, w)
for _ in range(40):
    for name in order:
        start = time.perf_counter()
        plans[name](x, w)
        times[name].append(time.perf_counter() - start)
print(statistics.median(times["torch"]), statistics.median(times["variant"]))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--variant", default="winograd")
    parser.add_argument("--filter", type=int, default=3)
    args = parser.parse_args()
    settings = {(order, first): imports + BODY.format(k=args.filter, variant=args.variant, torch_first=first == "torch")
                for order, imports in ORDERS.items() for first in ("variant", "torch")}
    found = {setting: [] for setting in settings}
    for _ in range(args.runs):
        for setting, code in settings.items():
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            torch_s, variant_s = map(float, out.stdout.split())
            found[setting].append((torch_s, variant_s / torch_s))
    for (order, first), samples in found.items():
        torch_ms = [1e3 * t for t, _ in samples]
        ratios = [r for _, r in samples]
        print(f"{order:26} {first + ' first':15} torch {statistics.median(torch_ms):6.2f} ms "
              f"(runs {min(torch_ms):.2f}-{max(torch_ms):.2f})   {args.variant}/torch time "
              f"{statistics.median(ratios):.2f} (runs {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
