"""Seaborn charts from asv results: the answers to "which algorithm, and what does compression buy?"

Each chart reads the newest asv results (convbench.report.results) and writes PNG and SVG.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from convbench.interface.registry import FAMILY, OURS, SWEPT_LABELS  # noqa: E402
from convbench.core.errors import ConvError  # noqa: E402
from convbench.report.results import load_results  # noqa: E402
from convbench.workloads.models import forward_costs  # noqa: E402

ORDER = list(SWEPT_LABELS)  # the registry's order: every variant, then the peers
MIB = 2**20
# Where a point has several values (machines, or runs), the band is their whole range: seaborn's default,
# a bootstrapped 95% interval of the mean, claimed a statistic that two or three machines cannot
# support, and its bootstraps took a fifth of `convbench plot` (results/records/implementation-choices.json, row plot-spread-not-bootstrap).
SPREAD = ("pi", 100)


def _save(fig, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.{ext}" for ext in ("png", "svg")]
    for path in paths:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths


def _measure(frame, suite, measure):
    return frame[(frame.suite == suite) & (frame.measure == measure)].dropna(subset=["value"])


def crossover(times: pd.DataFrame, fast: str, slow: str) -> int | None:
    """The smallest filter size from which `fast` stays faster than `slow`."""
    table = times.pivot_table(index="filter", columns="algorithm", values="value")
    if fast not in table or slow not in table:
        return None
    both = table[[fast, slow]].dropna()  # a size either side did not measure (n/a) decides nothing
    wins = both[fast] < both[slow]
    for k in wins.index:
        if wins.loc[k:].all():
            return int(k)
    return None


def chart_filter_size(frame, out):
    data = _measure(frame, "FilterSize", "time_conv").copy()
    if data.empty:
        return []
    data["time [ms]"] = data.value * 1e3
    data["input"] = data["input"].astype(int)
    data["filter"] = data["filter"].astype(int)
    sizes = sorted(data["input"].unique())
    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 4.5), squeeze=False, sharey=True)
    for ax, size in zip(axes[0], sizes):
        panel = data[data["input"] == size]
        sns.lineplot(errorbar=SPREAD, data=panel, x="filter", y="time [ms]", hue="algorithm", style="backend", markers=True,
                     hue_order=[a for a in ORDER if a in set(panel.algorithm)], ax=ax)
        ax.set(yscale="log", xlabel="filter size k (k x k, 'same' padding)", ylabel="time per call [ms]",
               title=f"input {size}x{size}, N=2, C=K=32")
        for rival, color in (("direct", "tab:blue"), ("torch", "tab:red")):
            k = crossover(panel[panel.backend == "cpu"], "fft", rival)
            if k is not None:
                ax.axvline(k, color=color, linestyle=":", alpha=0.7)
                ax.annotate(f"fft < {rival}\nfrom k={k}", (k, ax.get_ylim()[1]), xytext=(3, -28),
                            textcoords="offset points", fontsize=8, color=color)
    fig.suptitle("Time vs filter size: where does FFT overtake?")
    return _save(fig, out, "time_vs_filter_size")


def chart_compression_cost(frame, out):
    time = _measure(frame, "Compression", "time_conv").assign(metric="time per call [ms]", shown=lambda d: d.value * 1e3)
    space = _measure(frame, "Compression", "track_workspace").assign(metric="measured workspace [MiB]", shown=lambda d: d.value / MIB)
    data = pd.concat([time, space])
    if data.empty:
        return []
    grid = sns.relplot(data, x="compression", y="shown", row="metric", col="layer", style="backend", kind="line",
                       marker="o", facet_kws=dict(sharey=False), height=3, aspect=1.1)
    grid.set_axis_labels("compression c", "")
    for (metric, layer), ax in grid.axes_dict.items():
        ax.set_title(f"{layer}", fontsize=9)
        ax.set_ylim(bottom=0)
    for ax, (metric, _) in zip(grid.axes[:, 0], data.groupby("metric", sort=False)):
        ax.set_ylabel(metric)
    grid.figure.suptitle("Band-limited FFT: time and measured workspace vs compression rate c\n"
                         "(c = fraction of one-sided spectral coefficients dropped)", y=1.04)
    return _save(grid.figure, out, "compression_time_workspace")


def chart_compression_accuracy(frame, out):
    inputs = {"": "white noise", "_natural": "1/f² (natural-image) spectrum", "_photographs": "photographs"}
    error = pd.concat([_measure(frame, "Compression", f"track_relative_error{key}").assign(input=label)
                       for key, label in inputs.items()])
    energy = pd.concat([_measure(frame, "Compression", f"track_retained_energy{key}").assign(input=label)
                        for key, label in inputs.items()])
    if error.empty:
        return []
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    sns.lineplot(errorbar=SPREAD, data=error[error.value > 0], x="compression", y="value", hue="layer", style="input", marker="o", ax=left)
    left.set(yscale="log", xlabel="compression rate c", ylabel="relative L2 error vs float64 oracle",
             title="Output error")
    sns.lineplot(errorbar=SPREAD, data=energy, x="compression", y="value", hue="layer", style="input", marker="o", ax=right)
    right.set(xlabel="compression rate c", ylabel="fraction of input spectral energy kept",
              title="Retained input energy (Parseval)", ylim=(0, 1.02))
    fig.suptitle("What band-limiting costs: white noise is the worst case; a 1/f² spectrum and real photographs "
                 "keep more")
    return _save(fig, out, "compression_error_energy")


def chart_gflops(frame, out):
    data = _measure(frame, "Layers", "track_gflops")
    yardstick = frame[(frame.suite == "Sgemm")].dropna(subset=["value"])
    # the cores' FMA peak where the run measured it; older runs charted their best sgemm
    fma = yardstick[yardstick.measure == "track_fma_peak_gflops"]
    peaks, peak_name = (fma, "fp32 FMA peak") if not fma.empty else (yardstick, "sgemm peak")
    if data.empty:
        return []
    layers = list(dict.fromkeys(data.layer))
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(layers) + 3), 4.8))
    sns.barplot(errorbar=SPREAD, data=data[data.backend == "cpu"], x="layer", y="value", hue="algorithm",
                hue_order=[a for a in ORDER if a in set(data.algorithm)], order=layers, ax=ax)
    if not peaks.empty:
        peak = peaks.value.max()
        ax.axhline(peak, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"measured {peak_name} {peak:.0f} GFLOP/s", (0, peak), xytext=(2, 4), textcoords="offset points", fontsize=8)
    ax.set(xlabel="layer", ylabel="effective GFLOP/s (2·N·K·C·R·S·P·Q / time)",
           title="Effective GFLOP/s per layer and algorithm (CPU); Winograd and FFT may exceed the peak")
    ax.tick_params(axis="x", rotation=45)
    return _save(fig, out, "gflops_per_layer")


def chart_gpu(frame, out):
    """The cuda backend on whichever GPU machines have results (committed from a lent GPU):
    time per layer against cuDNN, and what compression buys in time and measured device memory."""
    layers = _measure(frame, "Layers", "time_conv")
    layers = layers[layers.backend == "cuda"].assign(ms=lambda d: d.value * 1e3)
    compression = pd.concat([_measure(frame, "Compression", measure).assign(metric=label)
                             for measure, label in (("time_conv", "time"), ("track_workspace", "device workspace"))])
    compression = compression[compression.backend == "cuda"]
    if layers.empty and compression.empty:
        return []
    machines = ", ".join(sorted(set(layers.machine) | set(compression.machine)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    if not layers.empty:
        sns.barplot(errorbar=SPREAD, data=layers, x="layer", y="ms", hue="algorithm", hue_order=[a for a in ORDER if a in set(layers.algorithm)],
                    ax=left)
        left.set(yscale="log", ylabel="time per call [ms] (data on the device)",
                 title="Time per layer; torch = cuDNN in float32")
        left.legend(fontsize=8, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    if not compression.empty:
        at_zero = compression[compression.compression == 0].set_index(["machine", "layer", "metric"]).value
        compression = compression.assign(
            relative=compression.value / at_zero.reindex(pd.MultiIndex.from_frame(
                compression[["machine", "layer", "metric"]])).to_numpy())
        sns.lineplot(errorbar=SPREAD, data=compression, x="compression", y="relative", hue="layer", style="metric", marker="o", ax=right)
        right.axhline(0.6, color="black", linestyle=":", linewidth=1)
        right.set(xlabel="compression rate c", ylabel="relative to c = 0", ylim=(0, max(1.2, 1.05 * compression.relative.max())),
                  title="Band-limited FFT: time and measured device memory vs c")
    fig.suptitle(f"The cuda backend on {machines}")
    return _save(fig, out, "gpu_layers_compression")


def chart_families(frame, out):
    """FFT or Winograd? Every variant's time against the filter size and against the channel count."""
    panels = []
    for suite, axis in (("FilterSize", "filter"), ("Channels", "channels")):
        data = _measure(frame, suite, "time_conv")
        if data.empty:
            continue
        data = data[data.backend == "cpu"].assign(x=lambda d: d[axis].astype(int), size=lambda d: d["input"].astype(int))
        panels += [(data[data["size"] == size], size, axis) for size in sorted(data["size"].unique())]
    if not panels:
        return []
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for ax, (panel, size, axis) in zip(axes[0], panels):
        sns.lineplot(errorbar=SPREAD, data=panel.assign(ms=panel.value * 1e3), x="x", y="ms", hue="algorithm", markers=True, style="algorithm",
                     hue_order=[a for a in ORDER if a in set(panel.algorithm)], ax=ax, legend=ax is axes[0][-1])
        if axis == "filter":
            ax.set(xlabel="filter size k (k x k, 'same' padding)", title=f"{size}x{size}, N=2, C=K=32")
        else:
            ax.set(xscale="log", xlabel="channels C = K (3x3, padding 1)", title=f"{size}x{size}, N=4")
            ax.set_xticks(sorted(panel.x.unique()), [str(v) for v in sorted(panel.x.unique())])
            ax.minorticks_off()
        ax.set(yscale="log", ylabel="time per call [ms]")
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle("FFT or Winograd? Every variant against filter size and channel count (CPU)")
    return _save(fig, out, "fft_or_winograd")


def chart_tiles(frame, out):
    """Lavin's and Barabasz's trade-off: error against float64 and time, per tile size, on ResNet-18's layers."""
    tiled = [a for a in ORDER if a.startswith(("winograd", "fft tile"))] + ["torch"]
    error = _measure(frame, "Layers", "track_relative_error")
    time = _measure(frame, "Layers", "time_conv")
    data = [d[(d.backend == "cpu") & d.layer.str.startswith("resnet18") & d.algorithm.isin(tiled)] for d in (error, time)]
    if any(d.empty for d in data):
        return []
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    hue_order = [a for a in tiled if a in set(data[0].algorithm)]
    sns.barplot(errorbar=SPREAD, data=data[0], x="layer", y="value", hue="algorithm", hue_order=hue_order, ax=left, legend=False)
    left.set(yscale="log", ylabel="relative L2 error vs float64 oracle", title="Error grows with the tile")
    sns.barplot(errorbar=SPREAD, data=data[1].assign(ms=data[1].value * 1e3), x="layer", y="ms", hue="algorithm", hue_order=hue_order, ax=right)
    right.set(yscale="log", ylabel="time per call [ms]", title="Time per call (N=8)")
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=20)
    fig.suptitle("Accuracy and speed of the Winograd and FFT tile sizes on ResNet-18's 3x3 layers (CPU)")
    return _save(fig, out, "tile_error_time")


def chart_training_compression(frame, out):
    """A training step (forward + both backward passes) of the band-limited fft: time and measured
    workspace against the compression rate, relative to c = 0."""
    data = pd.concat([_measure(frame, "TrainingCompression", measure).assign(metric=label) for measure, label in
                      (("time_step", "time of a step"), ("track_workspace", "measured workspace of a step"))])
    if data.empty:
        return []
    at_zero = data[data.compression == 0].set_index(["machine", "layer", "metric"]).value
    data = data.assign(relative=data.value / at_zero.reindex(pd.MultiIndex.from_frame(
        data[["machine", "layer", "metric"]])).to_numpy())
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sns.lineplot(errorbar=SPREAD, data=data, x="compression", y="relative", hue="layer", style="metric", marker="o", ax=ax)
    ax.axhline(0.6, color="black", linestyle=":", linewidth=1)
    ax.set(xlabel="compression rate c", ylabel="relative to c = 0", ylim=(0, max(1.2, 1.05 * data.relative.max())),
           title="Band-limited training step: time and measured memory vs c (CPU)")
    return _save(fig, out, "training_step_compression")


def chart_training_passes(frame, out):
    """Per-pass time of every variant on real layers, stacked as a training step runs them."""
    passes = {"time_forward": "forward", "time_backward_data": "backward-data", "time_backward_filter": "backward-filter"}
    data = pd.concat([_measure(frame, "TrainingPasses", measure).assign(**{"pass": label})
                      for measure, label in passes.items()])
    if data.empty:
        return []
    layers = list(dict.fromkeys(data.layer))
    fig, axes = plt.subplots(1, len(layers), figsize=(4.8 * len(layers), 4.8), squeeze=False)
    for ax, name in zip(axes[0], layers):
        table = data[data.layer == name].pivot_table(index="algorithm", columns="pass", values="value") * 1e3
        table = table.reindex([a for a in ORDER if a in table.index])[[p for p in passes.values() if p in table]]
        table.plot.barh(stacked=True, ax=ax, legend=ax is axes[0][-1])
        ax.set(title=name, xlabel="time [ms]", ylabel="")
    fig.suptitle("A training step, pass by pass, per variant (CPU)")
    return _save(fig, out, "training_passes")


def model_layer_times(frame) -> pd.DataFrame:
    """The Models suite's times as (model, position, layer, count) x algorithm seconds, from its
    layer parameter 'resnet18/03 layer1.0.conv1 (+3) x4'."""
    data = _measure(frame, "Models", "time_conv")
    if data.empty:
        return pd.DataFrame()
    parts = data.layer.str.extract(r"^(?P<model>[^/]+)/(?P<position>\d+) (?P<name>.*) x(?P<count>\d+)$")
    # other suites' parameters (Digits has a "model") are columns of the frame too: dropped here
    data = data.drop(columns=[c for c in ("layer", *parts.columns) if c in data])
    data = pd.concat([data, parts], axis=1).astype({"count": int, "position": int})
    return data.pivot_table(index=["machine", "model", "position", "name", "count"], columns="algorithm", values="value")


def model_bars(times: pd.DataFrame) -> tuple[dict, dict]:
    """For one model's rows of model_layer_times: ({variant or 'cherry-pick': ms per layer, count x
    time, torch's time where the variant cannot compute the layer}, {same: whether it computed it})."""
    counts = times.index.get_level_values("count").to_numpy() * 1e3  # milliseconds
    algorithms = [a for a in ORDER if a in times]
    costs, own = forward_costs(counts, {a: times[a].to_list() for a in algorithms})
    return {a: np.asarray(bar) for a, bar in costs.items()}, {a: np.asarray(flags) for a, flags in own.items()}


def chart_models(frame, out):
    """Per model: one forward pass's convolutions per variant (count x time per call, torch's time
    where the variant cannot compute a layer), stacked by layer, and the cherry-pick."""
    table = model_layer_times(frame)
    if table.empty or "torch" not in table:
        return []
    models = list(dict.fromkeys(table.index.get_level_values("model")))
    fig, axes = plt.subplots(len(models), 1, figsize=(11, 3.2 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models):
        times = table.xs(model, level="model").sort_index(level="position")
        counts = times.index.get_level_values("count").to_numpy()
        bars, own = model_bars(times)
        colors = plt.cm.viridis([i / max(1, len(counts) - 1) for i in range(len(counts))])
        names, torch_total = list(bars), bars["torch"].sum()
        # the axis ends at 4x torch's total: a variant far slower is cut there, its total written on it
        end = 1.3 * min(4 * torch_total, max(b.sum() for b in bars.values()))
        for y, name in enumerate(names):
            widths = np.asarray(bars[name], dtype=float)
            starts = np.concatenate([[0.0], np.cumsum(widths)[:-1]])
            faces = colors.copy()
            faces[:, 3] = np.where(own[name], 1.0, 0.3)
            # one collection per bar, not a patch per layer (results/records/implementation-choices.json, row plot-one-collection-per-bar)
            ax.broken_barh(list(zip(starts, widths)), (y - 0.4, 0.8), facecolors=faces, edgecolor="white",
                           linewidth=0.3)
            left = float(widths.sum())
            label = f"{left:.3g} ms ({torch_total / left:.2f}x torch)"
            if left <= end:  # room after the bar
                ax.annotate(label, (left, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
            else:  # on the bar, '>' where the axis cuts it
                ax.annotate(label + (" >" if left > 1.25 * end else ""), (min(left, 1.25 * end), y), xytext=(-4, 0),
                            textcoords="offset points", ha="right", va="center", fontsize=8, color="white",
                            fontweight="bold")
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set(xlabel="time of one forward pass's convolutions [ms]", xlim=(0, 1.25 * end),
               title=f"{model}: {len(counts)} unique convolutions, {counts.sum()} in all (layers in forward order, "
                     f"dark to light; faded: torch's time where the variant cannot compute the layer)")
        ax.title.set_fontsize(9)
    fig.suptitle("Your model's convolutions: each variant's total, and the best variant per layer (CPU, batch 1)")
    fig.tight_layout()
    return _save(fig, out, "model_convolutions")


def chart_accuracy(rows, out):
    """The proposal's "Tuning: accuracy vs performance", in miniature: test accuracy against time per
    epoch and against the memory training allocates, each with the Pareto front of the compression
    rates (the points no other rate beats on both), and against the rate (convbench accuracy's rows)."""
    from convbench.workloads.accuracy import COSTS, pareto_front

    frame = pd.DataFrame([row.__dict__ for row in rows])
    fft, peer = frame[frame.model == "fft"], frame[frame.model == "torch"]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(17, 4.5))
    for ax, cost, unit, label in ((left, "seconds_per_epoch", 1, "time per epoch [s] (CPU)"),
                                  (middle, "peak_memory_bytes", MIB, "memory training allocates [MiB] "
                                                                     "(peak resident rise, measured)")):
        ax.plot(fft[cost].astype(float) / unit, 100 * fft.test_accuracy, "o", color="tab:blue", label="convbench fft")
        for _, row in fft.iterrows():
            ax.annotate(f"c={row.compression:g}", (float(row[cost]) / unit, 100 * row.test_accuracy), xytext=(4, 4),
                        textcoords="offset points", fontsize=8)
        ax.plot(peer[cost].astype(float) / unit, 100 * peer.test_accuracy, "s", color="tab:red",
                label="torch.nn.Conv2d")
        front = pareto_front([row for row in rows if row.model == "fft"], cost)  # the rates to choose from
        if front:
            xs = [getattr(row, cost) / unit for row in front]
            ax.step(xs, [100 * row.test_accuracy for row in front], where="post", color="0.3", linestyle="--",
                    linewidth=1, label="the rates' Pareto front")
            ax.plot(xs, [100 * row.test_accuracy for row in front], "o", markersize=12, markerfacecolor="none",
                    markeredgecolor="0.3")
        ax.set(xlabel=label, ylabel="test accuracy [%]", title=f"Accuracy vs {COSTS[cost]}")
        ax.legend(fontsize=8)
    right.plot(fft.compression, 100 * fft.test_accuracy, "o-", label="convbench fft")
    right.axhline(100 * peer.test_accuracy.iloc[0], color="tab:red", linestyle=":", label="torch.nn.Conv2d")
    right.set(xlabel="compression rate c", ylabel="test accuracy [%]", title="Accuracy vs compression")
    right.legend()
    fig.suptitle(f"Band-limited training, in miniature: a 2-conv CNN on 8x8 digits, {rows[0].epochs} epochs")
    return _save(fig, out, "accuracy_vs_compression")


def chart_robustness(rows, out):
    """Accuracy under attack against epsilon, one line per model (torch, and the band-limited fft at each
    compression), one panel per attack (convbench robustness's rows)."""
    frame = pd.DataFrame([row.__dict__ for row in rows])
    attacks = list(dict.fromkeys(frame.attack))
    fig, axes = plt.subplots(1, len(attacks), figsize=(6 * len(attacks), 4.2), squeeze=False, sharey=True)
    frame["accuracy [%]"] = 100 * frame.accuracy
    for ax, attack in zip(axes[0], attacks):
        sns.lineplot(errorbar=SPREAD, data=frame[frame.attack == attack], x="epsilon", y="accuracy [%]", hue="model", marker="o", ax=ax)
        ax.set(xlabel="epsilon (L-inf, images in [0, 1])", title=f"{attack}, white-box through convbench's gradients")
    fig.suptitle("Is a more band-limited model more robust? The digits CNN at each compression under attack")
    return _save(fig, out, "robustness_vs_compression")


def chart_noise(rows, chance: float, out):
    """Accuracy against the Gaussian input noise's sigma, one line per model (torch, and the band-limited fft
    at each compression; the band: the training seeds' range), chance dotted; and each model's sigma_half
    against its compression (convbench noise's rows)."""
    from convbench.workloads.noise import sigmas_half

    frame = pd.DataFrame([row.__dict__ for row in rows])
    frame["accuracy [%]"] = 100 * frame.accuracy
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    sns.lineplot(errorbar=SPREAD, data=frame, x="sigma", y="accuracy [%]", hue="model", marker="o", ax=left)
    left.axhline(100 * chance, color="0.4", linestyle=":", label="chance")
    left.legend()
    left.set_xscale("symlog", linthresh=0.1)  # the small sigmas where accuracy starts to fall, and the long tail to chance
    left.set_xlim(left=0)
    left.set(xlabel="Gaussian noise sigma (images in [0, 1], clipped)", title="Test accuracy under input noise")
    half = pd.DataFrame([{"model": model, "seed": seed, "sigma half": value,
                          "compression rate c": next(r.compression for r in rows if r.model == model)}
                         for model, seeds in sigmas_half(rows, chance).items() for seed, value in seeds.items()])
    sns.lineplot(errorbar=SPREAD, data=half[half.model != "torch"], x="compression rate c", y="sigma half",
                 marker="o", label="convbench fft", ax=right)
    if (half.model == "torch").any():
        right.axhline(half[half.model == "torch"]["sigma half"].mean(), color="tab:red", linestyle=":",
                      label="torch.nn.Conv2d")
    right.legend()
    right.set(title="The noise that takes a model half way to chance")
    fig.suptitle("Is a more band-limited model more robust to noise? The digits CNN at each compression")
    return _save(fig, out, "accuracy_vs_noise")


def chart_learning_order(histories, out):
    """Per conv layer (a row) and model (a column): the share of its final change each frequency band has
    made against the training step, one line per band, its settling step marked; the last row, each band's
    share of the gradient's energy (convbench learning-order's histories)."""
    from convbench.workloads.learning_order import gradient_shares, layer_progress, settled_at

    layers, bands = list(histories[0].changes), histories[0].bands
    colours = sns.color_palette("viridis", bands)
    fig, axes = plt.subplots(len(layers) + 1, len(histories), figsize=(4.6 * len(histories), 3.2 * (len(layers) + 1)),
                             squeeze=False, sharex=True)
    for column, history in enumerate(histories):
        for row, layer in enumerate(layers):
            ax, shares = axes[row][column], layer_progress(history, layer)
            settled = settled_at(history.steps, shares)
            for band in range(bands):
                ax.plot(history.steps, shares[:, band], color=colours[band], label=f"band {band}")
                ax.axvline(settled[band], color=colours[band], linestyle=":", linewidth=1)
            ax.axhline(1, color="0.5", linewidth=0.8)
            ax.set(title=f"{history.model}, {layer}", ylabel="share of the final change" if column == 0 else None)
        ax = axes[-1][column]
        shares = np.nanmean([gradient_shares(history, layer) for layer in layers], axis=0)
        for band in range(bands):
            ax.plot(history.steps, shares[:, band], color=colours[band], label=f"band {band}")
        ax.set(xlabel="training step", ylabel="gradient energy share" if column == 0 else None,
               title=f"{history.model}, the gradient by band")
    axes[0][-1].legend(title="0 = lowest frequencies", fontsize="small")
    fig.suptitle("Are the low frequencies learned first? Each band's progress to its final change (dotted: settled)")
    return _save(fig, out, "learning_order")


def chart_recovery_window(rows, out):
    """Per lossy channel (a row) and distortion of the minimal adversarial (a column): the fraction of the
    fooled digits the channel gives back, and of the clean digits it keeps right, against its strength, the
    window shaded (convbench recovery-window's rows)."""
    from convbench.workloads.recovery_window import CHANNELS, KEEPS_CLEAN, RECOVERS, window

    channels = list(dict.fromkeys(row.channel for row in rows))
    distortions = sorted({row.distortion for row in rows if row.distortion > 0})
    fig, axes = plt.subplots(len(channels), len(distortions), figsize=(3.6 * len(distortions), 3.0 * len(channels)),
                             squeeze=False, sharey=True, layout="constrained")
    for top, channel in enumerate(channels):
        clean = sorted((row.strength, row.fraction) for row in rows if row.channel == channel and row.distortion == 0)
        strengths = [strength for strength, _ in clean]
        half_step = min(np.diff(strengths), default=1.0) / 2  # a window of one strength still shows
        for column, distortion in enumerate(distortions):
            ax = axes[top][column]
            given_back = sorted((row.strength, row.fraction) for row in rows
                                if row.channel == channel and row.distortion == distortion)
            ax.plot(*zip(*clean), color="0.45", marker=".", label="clean digits kept")
            ax.plot(*zip(*given_back), color="tab:blue", marker="o", label="fooled digits given back")
            inside = window(rows, channel, distortion)
            if inside:
                ax.axvspan(min(inside) - half_step, max(inside) + half_step, color="tab:green", alpha=0.15,
                           label="the window")
            ax.axhline(RECOVERS, color="tab:blue", linestyle=":", linewidth=0.8)
            ax.axhline(KEEPS_CLEAN, color="0.45", linestyle=":", linewidth=0.8)
            if channel in CHANNELS and CHANNELS[channel].stronger_is_lower:
                ax.invert_xaxis()  # stronger to the right, as on the other rows
            ax.set(ylim=(0, 1.02), xlabel=CHANNELS[channel].strength if channel in CHANNELS else "strength",
                   ylabel=f"{channel}\nfraction of digits" if column == 0 else None,
                   title=f"{distortion:g}x the minimal perturbation" if top == 0 else None)
    axes[-1][0].legend(fontsize="small")
    fig.suptitle("Does the recovery window shrink as the adversarial distortion grows? The plain digits CNN "
                 "behind each lossy channel")
    return _save(fig, out, "recovery_window")


def chart_curvature(rows, out):
    """Per model (x) and kind of input (hue): the distribution of the input gradient's norm and of the loss
    Hessian's top eigenvalue over the digits, log scale (convbench curvature's rows)."""
    frame = pd.DataFrame([row.__dict__ for row in rows])
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), layout="constrained")
    for ax, (column, label) in zip(axes, (("gradient_norm", "input gradient norm"),
                                          ("top_eigenvalue", "top Hessian eigenvalue (input)"))):
        shown = frame[frame[column] > 0]  # log scale: a digit whose loss is flat to float precision is left out
        sns.boxplot(data=shown, x="model", y=column, hue="kind", ax=ax, fliersize=2)
        ax.set_yscale("log")
        ax.set(xlabel="model (fft c=...: convbench's band-limited convolutions)", ylabel=label, title=label)
    fig.suptitle("How steep and how curved is the loss around natural, adversarial and recovered digits? "
                 "The digits CNN at each compression")
    return _save(fig, out, "curvature")


def chart_signal(frame, out):
    """Time against filter length for long 1-D convolutions: a row of panels per channel count, one panel
    per signal length, and where the better of the two fft variants first beats torch's conv1d and
    direct (and stays ahead)."""
    data = _measure(frame, "Signal", "time_conv").copy()
    if data.empty:
        return []
    data["time [ms]"] = data.value * 1e3
    for column in ("length", "filter", "channels"):
        data[column] = data[column].astype(int)
    channels, lengths = sorted(data.channels.unique()), sorted(data.length.unique())
    fig, axes = plt.subplots(len(channels), len(lengths), figsize=(4.2 * len(lengths), 3.6 * len(channels)),
                             squeeze=False)
    order = list(dict.fromkeys(data.algorithm))
    for row, count in zip(axes, channels):
        for ax, length in zip(row, lengths):
            panel = data[(data.channels == count) & (data.length == length)]
            if panel.empty:
                ax.set_axis_off()
                continue
            sns.lineplot(errorbar=SPREAD, data=panel, x="filter", y="time [ms]", hue="algorithm", hue_order=order, style="algorithm",
                         style_order=order, markers=True, ax=ax, legend=ax is axes[0][0])
            ax.set(xscale="log", yscale="log", xlabel="filter length (taps)", ylabel="time per call [ms]",
                   title=f"{length:,} samples, " + ("N=C=K=1" if count == 1 else f"N=4, C=K={count}"))
            ax.title.set_fontsize(10)
            fastest = panel[panel.algorithm.str.startswith("fft")].groupby("filter", as_index=False)["value"].min()
            both = pd.concat([panel, fastest.assign(algorithm="best fft")])
            for rival, color in (("torch", "tab:red"), ("direct", "tab:blue")):
                k = crossover(both, "best fft", rival)
                if k is not None:
                    ax.axvline(k, color=color, linestyle=":", alpha=0.7)
                    ax.annotate(f"fft < {rival} from {k}", (k, ax.get_ylim()[0]), xytext=(3, 4 + 12 * (rival == "direct")),
                                textcoords="offset points", fontsize=7, color=color)
    if axes[0][0].get_legend() is not None:
        handles, labels = axes[0][0].get_legend_handles_labels()
        axes[0][0].get_legend().remove()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle("Long 1-D convolutions (valid): time vs filter length; dotted, where the better fft variant "
                 "overtakes conv1d (red) and direct (blue) for good")
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    return _save(fig, out, "signal_time_vs_filter")


def chart_algorithm_at_best(frame, out):
    """Each algorithm by each of its implementations: per family (direct, Winograd F(2x2) / F(4x4) / F(6x6),
    the FFT tiles, the whole-image FFT), ours beside the field's, on every real layer measured."""
    data = _measure(frame, "Layers", "time_conv")
    data = data[(data.backend == "cpu") & data.algorithm.isin(list(FAMILY))]
    if data.empty:
        return []
    def shown(label):
        return f"ours: {label}" if label in OURS else label

    data = data.assign(family=data.algorithm.map(FAMILY), ms=data.value * 1e3, implementation=data.algorithm.map(shown))
    families = [f for f in dict.fromkeys(FAMILY[a] for a in ORDER if a in FAMILY) if f in set(data.family)]
    layers = list(dict.fromkeys(data.layer))
    fig, axes = plt.subplots(len(families), 1, figsize=(max(8, 0.9 * len(layers) + 4), 3.2 * len(families)),
                             squeeze=False, sharex=True)
    for ax, family in zip(axes[:, 0], families):
        panel = data[data.family == family]
        hue_order = [shown(a) for a in ORDER if shown(a) in set(panel.implementation)]
        sns.barplot(errorbar=SPREAD, data=panel, x="layer", y="ms", hue="implementation", hue_order=hue_order,
                    order=layers, ax=ax)
        ax.set(yscale="log", ylabel="time per call [ms]", xlabel="", title=family)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    axes[-1, 0].tick_params(axis="x", rotation=45)
    fig.suptitle("Each algorithm at its best: ours beside the field's implementations, per family (CPU)")
    return _save(fig, out, "algorithm_at_its_best")


CHARTS = (chart_filter_size, chart_algorithm_at_best, chart_compression_cost, chart_compression_accuracy, chart_gflops, chart_families, chart_tiles,
          chart_training_compression, chart_training_passes, chart_models, chart_signal)


def plot_all(results_dir="results", out="results/figures", machine: str | None = None) -> list[Path]:
    """Every chart from the stored results: the CPU charts from `machine` (all machines if
    None), the GPU chart from every machine that has cuda results."""
    everything = load_results(results_dir)
    frame = everything[everything.machine == machine] if machine else everything
    if frame.empty:
        raise ConvError(f"no asv results for machine {machine!r} under {results_dir}/; expected one of "
                        f"{', '.join(sorted(set(everything.machine)))}")
    sns.set_theme(style="whitegrid", context="notebook")
    out = Path(out)
    drawn = []
    for chart, data in [*((chart, frame) for chart in CHARTS), (chart_gpu, everything)]:
        try:
            drawn += chart(data, out)
        except (KeyError, AttributeError) as err:  # results of another layout (asv entries without params)
            print(f"convbench: skipping the chart {chart.__name__[6:]}: the results lack what it reads ({err})")
            plt.close("all")
    return drawn
