""""That is not a digit": how well the check tells non-digits from MNIST's 10,000 test digits, and what a map costs.

Run: `python bench/not_a_digit.py [--per-kind 500] [--run NAME] [--skip-map-timing] [--umap-path DIR]`.

1. The map's compute time, as a worker pays it when a run ends (`core.runs.feature_files`): the
   shipped model's penultimate layer on 15,000 digits with Keras, the statistics, the PCA, then
   openTSNE (the lab's choice) and UMAP (with `--umap-path`, a folder with umap-learn installed by
   `pip install --target`) on the 5,000 map digits, each in a fresh interpreter: its import, its first
   call (for UMAP, numba's compilation), a second call; wall and CPU seconds (the CPU ones do not
   depend on the machine's load).
2. The check: non-digits made as Draw would see them (`bench/non_digits.py`: letters in Debian's
   fonts, scribbles, two test digits side by side, smudges) against the 10,000 test digits, scored
   by the shipped model's (or run NAME's) `novelty.npz`: the AUROC of each signal (Mahalanobis
   distance, energy, 1 - max probability), then, at the saved threshold of the saved signal, the
   share flagged per kind and of the test digits (all 10,000, and the 5,000 the threshold was not
   chosen on). Targets: `not_a_digit_auroc` >= 0.95, every kind >= 80% flagged, test digits <= 2%.

Prints CPU and load first; the last lines are `not_a_digit_auroc=...` and `map_seconds=...`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from shared_machine import cpu_model  # noqa: E402

REDUCER_CHILD = """
import sys, time, numpy as np
sys.path.insert(0, {root!r})
sys.path[1:1] = {extra_path!r}
def clock():
    return time.perf_counter(), time.process_time()
wall, cpu = clock()
from core.embedding import reducers
reduce = {{"umap": reducers.umap_2d, "tsne": reducers.tsne_2d}}[{method!r}]
reduced = np.load({path!r})
try:
    if {method!r} == "umap":
        import umap  # noqa: F401
    else:
        import openTSNE  # noqa: F401
except ImportError:
    print("missing"); sys.exit()
times = [clock()]
reduce(reduced)
times.append(clock())
reduce(reduced)
times.append(clock())
(w0, c0), (w1, c1), (w2, c2) = [(wall, cpu)] + times[:2]
w3, c3 = times[2]
print(f"{{w1 - w0:.2f}} {{c1 - c0:.2f}} {{w2 - w1:.2f}} {{c2 - c1:.2f}} {{w3 - w2:.2f}} {{c3 - c2:.2f}}")
"""


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def time_map(mnist, umap_path: str | None) -> float:
    """Print the worker's map cost step by step; returns the t-SNE map's total (features + statistics + PCA + t-SNE)."""
    from core.embedding.reducers import fit_pca
    from core.models.penultimate import keras_features_and_logits
    from core.novelty.digit_statistics import fit_digit_statistics
    from core.runs.feature_files import sample_indices
    from core.runs.pretrained import load_pretrained_model
    from core.data.splits import to_model_input

    model = load_pretrained_model()
    test, train = sample_indices(mnist)
    images = to_model_input(np.concatenate([mnist.x_test[test], mnist.x_train[train]]))
    function = keras_features_and_logits(model)
    function(images[:512])  # Keras's first predict traces its function: a worker has done that in training
    started = time.perf_counter()
    features, logits = function(images)
    features_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fit_digit_statistics(features[len(test):], mnist.y_train[train], features[: len(test)], logits[: len(test)])
    statistics_seconds = time.perf_counter() - started
    started = time.perf_counter()
    mean, basis = fit_pca(features[: len(test)])
    reduced = (features[: len(test)] - mean) @ basis
    pca_seconds = time.perf_counter() - started
    print(f"map: features of {len(images):,} digits ({features.shape[1]} each) with Keras {features_seconds:.2f} s, "
          f"digit statistics {statistics_seconds:.2f} s, PCA to {reduced.shape[1]} {pca_seconds:.2f} s")
    totals = {}
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "reduced.npy")
        np.save(path, reduced.astype(np.float32))
        for method in ("tsne", "umap"):
            child = REDUCER_CHILD.format(root=str(ROOT), extra_path=[umap_path] if umap_path else [], method=method, path=path)
            output = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout.split()
            if output[-1:] == ["missing"]:
                print(f"map: {method}: not installed here (umap-learn is not a requirement; --umap-path adds a copy)")
                continue
            imported, imported_cpu, first, first_cpu, second, second_cpu = map(float, output[-6:])
            totals[method] = features_seconds + statistics_seconds + pca_seconds + imported + first
            print(f"map: {method} of {len(test):,} digits in a fresh interpreter, wall (CPU) seconds: import {imported:.2f} "
                  f"({imported_cpu:.2f}), first call {first:.2f} ({first_cpu:.2f}), second call {second:.2f} ({second_cpu:.2f}); "
                  f"the worker's whole map with it (features + statistics + PCA + import + first call) {totals[method]:.2f} s wall")
    return totals["tsne"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=500, help="non-digits of each kind (default 500)")
    parser.add_argument("--run", help="a run whose model and novelty.npz to measure (default: the shipped model)")
    parser.add_argument("--skip-map-timing", action="store_true")
    parser.add_argument("--umap-path", help="a folder holding umap-learn and its dependencies (pip install --target), to time UMAP too")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {load_line()}")

    from core.data.mnist import load_mnist
    from core.data.splits import to_model_input
    from core.novelty.signals import SIGNALS, auroc
    from core.runs.feature_files import read_digit_statistics, sample_indices, source_features_and_logits
    from core.runs.model_sources import model_sources
    from non_digits import debian_fonts, non_digits

    mnist = load_mnist()
    source = next(source for source in model_sources() if (source.run_name == args.run if args.run else source.is_pretrained))
    statistics = read_digit_statistics(source)
    function = source_features_and_logits(source)
    print(f"model: {source.label}; statistics: {statistics.digits_fitted:,} training digits, threshold "
          f"{statistics.threshold:.2f} on {statistics.signal} (the {statistics.quantile:.0%} quantile of "
          f"{statistics.digits_thresholded:,} test digits)")
    fonts = debian_fonts()
    print(f"fonts: {len(fonts)} ({', '.join(sorted({font.stem.split('-')[0] for font in fonts}))})")

    started = time.perf_counter()
    kinds = non_digits(args.per_kind, mnist.x_test)
    print(f"made {sum(len(images) for images in kinds.values()):,} non-digits in {time.perf_counter() - started:.1f} s")
    digit_features, digit_logits = function(to_model_input(mnist.x_test))
    scored = {kind: function(images[..., None]) for kind, images in kinds.items()}

    print("\nAUROC, non-digits (all kinds) against the 10,000 test digits, per signal:")
    aurocs = {}
    for signal in SIGNALS:
        digits = statistics.scores(digit_features, digit_logits, signal)
        others = np.concatenate([statistics.scores(*scored[kind], signal) for kind in kinds])
        aurocs[signal] = auroc(digits, others)
        per_kind = ", ".join(f"{kind} {auroc(digits, statistics.scores(*scored[kind], signal)):.3f}" for kind in kinds)
        print(f"  {signal:12s} {aurocs[signal]:.4f}   ({per_kind})")

    digits = statistics.scores(digit_features, digit_logits)
    held_out = np.setdiff1d(np.arange(len(digits)), sample_indices(mnist)[0])
    print(f"\nat the saved threshold {statistics.threshold:.2f} ({statistics.signal}):")
    for kind in kinds:
        flagged = statistics.scores(*scored[kind]) > statistics.threshold
        print(f"  {kind:12s} flagged {flagged.mean():6.1%}  ({int(flagged.sum())} of {len(flagged)})")
    print(f"  test digits  flagged {np.mean(digits > statistics.threshold):6.2%} of all 10,000; "
          f"{np.mean(digits[held_out] > statistics.threshold):6.2%} of the {len(held_out):,} the threshold was not chosen on")

    map_seconds = None if args.skip_map_timing else time_map(mnist, args.umap_path)
    print(f"\nCPU: {cpu_model()}; {load_line()}")
    print(f"not_a_digit_auroc={aurocs[statistics.signal]:.4f}")
    if map_seconds is not None:
        print(f"map_seconds={map_seconds:.2f}")


if __name__ == "__main__":
    main()
