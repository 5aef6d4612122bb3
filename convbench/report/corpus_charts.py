"""The corpus store's answers as seaborn charts: where each variant wins, by how much, per model.

Read from a machine's corpus store (convbench.corpus.answers); nothing is re-measured.
"""
from __future__ import annotations

import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from convbench.corpus import answers, table  # noqa: E402
from convbench.interface.registry import CPU_PEER_VARIANTS, LABELS, SWEPT_LABELS  # noqa: E402
from convbench.report.plot import SPREAD, _save  # noqa: E402

# one colour per variant in every chart: ours in tab10's, the peers' in Dark2's
PALETTE = {**dict(zip(LABELS, sns.color_palette("tab10", len(LABELS)))),
           **dict(zip(CPU_PEER_VARIANTS, sns.color_palette("Dark2", len(CPU_PEER_VARIANTS))))}


def layer_frame(records: list[dict], data: Path = table.DATA) -> pd.DataFrame:
    """One row per measured layer: kind, kernel, channels, output size, occurrences, winner, x torch of it."""
    rows = {row["layer"]: row for row in table.layers(data)}
    found = []
    for record in records:
        ran = answers.times(record)
        if "torch" not in ran or record["layer"] not in rows:
            continue
        row = rows[record["layer"]]
        best = answers.winner(record)
        found.append(dict(layer=record["layer"], kind=row["kind"], kernel=f"{row['R']}x{row['S']}",
                          R=int(row["R"]), channels=int(row["C"]) // int(row["groups"]), output=int(row["P"]),
                          occurrences=int(row["occurrences"]), winner=best, best_vs_torch=ran["torch"] / ran[best]))
    return pd.DataFrame(found)


def chart_corpus_wins(records, out: Path, machine: str, data: Path = table.DATA) -> list[Path]:
    frame = layer_frame(records, data)
    if frame.empty:
        return []
    order = [label for label in SWEPT_LABELS if label in set(frame.winner)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    sns.scatterplot(data=frame, x="channels", y="R", hue="winner", hue_order=order, palette=PALETTE, size="occurrences",
                    sizes=(15, 300), alpha=0.7, ax=left)
    left.set(xscale="log", xlabel="input channels per group", ylabel="kernel height R",
             title=f"The winner of each layer ({len(frame)} corpus layers, batch 1, {machine})")
    left.legend(bbox_to_anchor=(1.01, 1), loc="upper left", fontsize="small")
    shares = (frame.groupby(["kind", "winner"]).occurrences.sum() / frame.groupby("kind").occurrences.sum()).rename(
        "share").reset_index()
    sns.barplot(errorbar=SPREAD, data=shares, x="kind", y="share", hue="winner", hue_order=order, palette=PALETTE, ax=right)
    right.set(ylabel="share of the layers' occurrences won", title="Wins per kind, weighted by how often layers run")
    right.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, out, "corpus_winners")


def chart_corpus_speedups(records, out: Path, machine: str, data: Path = table.DATA) -> list[Path]:
    found = answers.answer(records, data)
    rows = [dict(variant=label, speedup=value) for label in SWEPT_LABELS for value in found.speedups.get(label, [])]
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(11, 5))
    sns.boxplot(data=frame, x="variant", y="speedup", order=[label for label in SWEPT_LABELS if label in set(frame.variant)],
                hue="variant", palette=PALETTE, ax=ax, fliersize=2)
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ax.set(yscale="log", ylabel="torch's time / the variant's (> 1: faster)", xlabel="",
           title=f"By how much: each variant against torch over {found.layers} corpus layers ({machine})")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return _save(fig, out, "corpus_speedups")


def chart_corpus_models(records, out: Path, machine: str, data: Path = table.DATA) -> list[Path]:
    found = answers.answer(records, data)
    if not found.models:
        return []
    frame = pd.DataFrame(found.models, columns=["model", "torch", "cherry_pick", "layers"])
    frame["speedup"] = frame.torch / frame.cherry_pick
    fig, ax = plt.subplots(figsize=(11, 5))
    sns.histplot(data=frame, x="speedup", bins=30, ax=ax)
    ax.set(xlabel="torch's total / the cherry-pick's total over the model's measured layers",
           ylabel="models", title=f"Per model: cherry-picking the fastest variant per layer, {len(frame)} models "
                                  f"of the zoo ({machine})")
    fig.tight_layout()
    return _save(fig, out, "corpus_models")


def chart_corpus_machines(store: Path, out: Path, data: Path = table.DATA) -> list[Path]:
    """Every machine of the store side by side (a cluster sweep files each node's records under its
    machine): each variant's median ratio to torch over the layers that machine measured."""
    rows = []
    for directory in sorted(path for path in Path(store).iterdir() if path.is_dir()):
        records = answers.load(Path(store), directory.name)
        for label, values in (answers.answer(records, data).speedups.items() if records else ()):
            rows.append(dict(machine=f"{directory.name}\n({len(records)} layers)", variant=label,
                             speedup=statistics.median(values)))
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(11, 5))
    sns.barplot(errorbar=SPREAD, data=frame, x="machine", y="speedup", hue="variant", palette=PALETTE, ax=ax,
                hue_order=[label for label in SWEPT_LABELS if label in set(frame.variant)])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set(xlabel="", ylabel="median of torch's time / the variant's, over the layers measured",
           title=f"The corpus store's machines side by side ({len(set(frame.machine))})")
    fig.tight_layout()
    return _save(fig, out, "corpus_machines")


def plot_corpus(store="results/corpus", out="results/figures", machine: str | None = None,
                data: Path = table.DATA) -> list[Path]:
    """The three corpus charts from the machine's store, and every machine's side by side ([] when the
    machine's store holds no records)."""
    records = answers.load(Path(store), machine)
    if not records:
        return []
    sns.set_theme(style="whitegrid", context="notebook")
    name = machine or records[0].get("machine", {}).get("id", "")
    out = Path(out)
    return [path for chart in (chart_corpus_wins, chart_corpus_speedups, chart_corpus_models)
            for path in chart(records, out, name, data)] + chart_corpus_machines(Path(store), out, data)
