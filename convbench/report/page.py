"""One place to look: a static page in the published HTML with every chart, what each shows,
and links to asv's pages; linked from the asv UI's index."""
from __future__ import annotations

import html
import shutil
from pathlib import Path

# What each chart shows (by file name), in the order the page lists them.
CAPTIONS = {
    "algorithm_at_its_best": "Each algorithm at its best: per family (direct, Winograd F(2x2) / F(4x4) / F(6x6), "
                             "FFT tiles, whole-image FFT), our implementation beside the field's (oneDNN 2.6, "
                             "NNPACK, scipy, fft-conv-pytorch, torch) on the real layers, so that a family's verdict "
                             "is about the algorithm, not about one implementation of it.",
    "time_vs_filter_size": "Time per call of every variant against the filter size, at two input sizes: "
                           "where FFT overtakes direct and torch.",
    "fft_or_winograd": "FFT or Winograd? Every variant's time against the filter size and against the channel "
                       "count (3x3), at two input sizes each: Zlateski et al.'s question, on this machine.",
    "tile_error_time": "The price of bigger tiles: relative error against the float64 oracle and time per call of "
                       "Winograd F(2), F(4), F(6) and the FFT tiles on ResNet-18's 3x3 layers.",
    "gflops_per_layer": "Effective GFLOP/s (the direct algorithm's count over the time) per real layer and variant, "
                        "against the machine's measured fp32 FMA peak (its best sgemm in runs before that was measured).",
    "compression_time_workspace": "What band-limiting buys: fft time per call and measured workspace against the "
                                  "compression rate, per layer.",
    "compression_error_energy": "What band-limiting costs: the output's error and the input energy kept, on white "
                                "noise, on a 1/f² spectrum and on real photographs (the proposal's claim that "
                                "natural images put more information in the low frequencies).",
    "training_step_compression": "A training step (forward and both backward passes) of the band-limited fft: "
                                 "time and measured memory against the compression rate, relative to c = 0.",
    "training_passes": "A training step pass by pass (forward, backward-data, backward-filter) for every variant "
                       "on real layers.",
    "accuracy_vs_compression": "The proposal's accuracy vs performance, in miniature: a small CNN trained on 8x8 digits "
                               "with band-limited convolutions, against torch's Conv2d (convbench accuracy): test "
                               "accuracy against the measured time per epoch and the memory training allocates, "
                               "the compression rates' Pareto front dashed (the rates no other beats on both), and "
                               "against the rate.",
    "robustness_vs_compression": "The proposal's robustness claim, in miniature: the digits CNN trained with "
                                 "band-limited convolutions at each compression, its test accuracy under FGSM and PGD "
                                 "(foolbox, white-box) against epsilon (convbench robustness).",
    "accuracy_vs_noise": "The proposal's robustness to noise, in miniature: the digits CNN trained with band-limited "
                         "convolutions at each compression, and torch's, its test accuracy with Gaussian noise added "
                         "to the inputs, from none to chance; and the noise each model bears before it has lost half "
                         "the way from its clean accuracy to chance (convbench noise).",
    "recovery_window": "The proposal's recovery window, in miniature: the plain digits CNN's test digits at their "
                       "minimal adversarial (PGD) and that perturbation scaled up, then passed through FFT "
                       "compression, Gaussian noise or feature squeezing at each strength: the fraction of the "
                       "fooled digits each channel gives back and of the clean digits it keeps, the window (most "
                       "given back, clean ones kept) shaded (convbench recovery-window).",
    "curvature": "The proposal's first- and second-order analysis, in miniature: the digits CNN at each "
                 "compression (and torch's), its input gradient's norm and the largest eigenvalue of the loss's "
                 "Hessian with respect to the input (power iteration on Hessian-vector products), over the test "
                 "digits it gets right, their minimal adversarial, and the adversarial digits FFT compression "
                 "gives back (convbench curvature).",
    "learning_order": "The proposal's claim that low frequencies are learned first: while the digits CNN trains "
                      "(torch's Conv2d, convbench's fft at c = 0 and a rate above), each conv layer's weight "
                      "change on its FFT grid, split into rings of frequency, as the share of its final change "
                      "each band has made, the step it settled dotted; and each band's share of the gradient's "
                      "energy (convbench learning-order).",
    "model_convolutions": "Your model's convolutions: per torchvision model, one forward pass's convolutions timed "
                          "with each variant (count x time per layer, stacked by layer) and the cherry-pick, the "
                          "fastest variant on each layer.",
    "corpus_winners": "Where each variant wins, on the field's layer corpus (every convolution of timm's and "
                      "torchvision's models, batch 1): the fastest variant of each measured layer by kernel height "
                      "and channels, and the share of each kind's occurrences each variant wins.",
    "corpus_speedups": "By how much: each variant's time against torch's on every corpus layer it can compute "
                       "(> 1 is faster), over the measured tiers.",
    "corpus_models": "Per model of the zoo: torch's total over the model's measured layers against the cherry-pick's "
                     "(the fastest variant of each layer), convnet-benchmarks' row for every model.",
    "corpus_machines": "Every machine of the corpus store side by side (a sweep on a Ray cluster files each node's "
                       "records under its machine): each variant's median time against torch's over the layers "
                       "that machine measured.",
    "signal_time_vs_filter": "Long 1-D convolutions (the proposal's DSP claim): time per call against the filter "
                             "length, per signal length and channel count, for convbench's 1-D variants, torch's "
                             "conv1d, scipy's fftconvolve and oaconvolve and a plain torch.fft convolution; the "
                             "dotted lines mark where fft overtakes conv1d and direct.",
    "gpu_layers_compression": "The cuda backend on the GPU machines with results: time per layer against cuDNN, "
                              "and what compression buys in time and device memory.",
}
LINK_ID = "convbench-report-link"


def write_report(html_dir, charts, machine: str = "") -> Path:
    """Copy the PNG charts into html_dir/figures and write html_dir/report.html; link it from index.html."""
    html_dir = Path(html_dir)
    figures = html_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    pngs = {Path(chart).stem: Path(chart) for chart in charts if Path(chart).suffix == ".png"}
    sections = []
    for name in [n for n in CAPTIONS if n in pngs] + sorted(set(pngs) - set(CAPTIONS)):
        shutil.copyfile(pngs[name], figures / pngs[name].name)
        caption = html.escape(CAPTIONS.get(name, name.replace("_", " ")))
        sections.append(f'<section id="{name}"><h2>{html.escape(name.replace("_", " "))}</h2><p>{caption}</p>'
                        f'<img src="figures/{pngs[name].name}" alt="{caption}"></section>')
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>convbench report</title>
<style>body{{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}}
img{{max-width:100%;border:1px solid #ddd}} section{{margin-bottom:2.5em}}</style></head>
<body><h1>convbench report{f" ({html.escape(machine)})" if machine else ""}</h1>
<p>The charts of the newest results, each with what it shows. The full history, per benchmark and machine:
<a href="index.html">the asv pages</a> (offline UI) or <a href="index.legacy.html">asv's own page</a>.
What each measurement means, and every machine's figures as tables: <a href="docs/index.html">the docs</a>
(<a href="docs/findings/suites/index.html">findings</a>).</p>
{chr(10).join(sections)}
</body></html>
"""
    report = html_dir / "report.html"
    report.write_text(page)
    _link_from_index(html_dir / "index.html")
    return report


def _link_from_index(index: Path) -> None:
    """A fixed link to the report on the asv UI's front page (once)."""
    if not index.exists():
        return
    text = index.read_text()
    if LINK_ID in text or "</body>" not in text:
        return
    link = (f'<a id="{LINK_ID}" href="report.html" style="position:fixed;right:1em;bottom:1em;z-index:9999;'
            f'background:#fff;padding:.4em .8em;border:1px solid #888;border-radius:4px">convbench report: the charts</a>')
    index.write_text(text.replace("</body>", link + "</body>", 1))
