""""That is not a digit": how well the check tells non-digits from MNIST's 10,000 test digits, and what a map costs.

Run: `python bench/not_a_digit.py [--per-kind 500] [--tuning-per-kind 400] [--run NAME] [--skip-map-timing] [--umap-path DIR]`.

1. The map's compute time, as a worker pays it when a run ends (`core.runs.feature_files`): the
   shipped model's penultimate layer on 15,000 digits with Keras, the statistics, the PCA, then
   openTSNE (the lab's choice) and UMAP (with `--umap-path`, a folder with umap-learn installed by
   `pip install --target`) on the 5,000 map digits, each in a fresh interpreter: its import, its first
   call (for UMAP, numba's compilation), a second call; wall and CPU seconds (the CPU ones do not
   depend on the machine's load).
2. The check: non-digits made as Draw would see them (`bench/non_digits.py`: letters in Debian's
   fonts, scribbles, two test digits side by side, smudges) against the 10,000 test digits, scored
   by the shipped model's (or run NAME's) `novelty.npz`: the AUROC of each signal, per kind and in all,
   then, at the saved threshold of the saved signal (`outlier_detector`, with the combined score's backstop,
   for the shipped model and a run that fitted its own; else `combined`), the share flagged per kind and of the
   test digits (all 10,000, and the 5,000 the threshold was not chosen on); each signal alone at its own
   threshold at the same quantile of the same 5,000 digits (the best figure a single signal gives); and
   the check from before the combined score (`nearest_digits` at the 99% quantile); how many of the letters
   passed are digit-shaped; the letters of the font family the detector never saw (Liberation) apart from
   DejaVu's; digits printed in Liberation's fonts (digits: a detector of "typed" would flag them); letters
   drawn as brush strokes (`non_digits.drawn_letters`); digits drawn as brush strokes from hand-made templates
   (`stroke_digits.template_digits`, never fitted on: a drawn digit must pass). Targets:
   `not_a_digit_auroc` >= 0.95, every kind >= 80% flagged, test digits <= 2%.
3. The tuning set the signals and the combination were chosen on (`non_digits.tuning_non_digits`:
   Greek and Cyrillic letters and Latin ones in Pillow's own font, scribbles and smudges of another
   seed, pairs of training digits): the same figures, so the choice can be checked; never reported as
   the result.
4. The novelty step's cost per drawing on the web server (NumPy: the model's features, then the
   verdict), before (penultimate features and the one-signal verdict) and after (with the pooled
   features, the image's pixel distance and the combined verdict): median ms over 1,000 test digits, the two steps interleaved.

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
    function = keras_features_and_logits(model, pooled=True)
    function(images[:512])  # Keras's first predict traces its function: a worker has done that in training
    started = time.perf_counter()
    features, logits, pooled = function(images)
    features_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fit_digit_statistics(features[len(test):], mnist.y_train[train], features[: len(test)], logits[: len(test)],
                         train_images=images[len(test):, ..., 0], held_out_images=images[: len(test), ..., 0],
                         train_pooled=pooled[len(test):], held_out_pooled=pooled[: len(test)])
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


def score(statistics, measured: tuple, signal: str | None = None) -> np.ndarray:
    """`statistics.scores` of `(features, logits, images, pooled)`."""
    features, logits, images, pooled = measured
    return statistics.scores(features, logits, signal, images=images, pooled=pooled)


def flagged(statistics, measured: tuple) -> np.ndarray:
    """`statistics.flags` of `(features, logits, images, pooled)`: what Draw calls "not a digit" (with a detector, its
    score over the threshold or the combined score over the backstop's)."""
    features, logits, images, pooled = measured
    return statistics.flags(features, logits, images=images, pooled=pooled)


def flag_rates(statistics, scored: dict, threshold: float, signal: str) -> str:
    return ", ".join(f"{kind} {np.mean(score(statistics, scored[kind], signal) > threshold):.1%}" for kind in scored)


def report(statistics, digits: tuple, scored: dict, map_digits: np.ndarray, held_out: np.ndarray, title: str,
           letter_names: str | None = None) -> float:
    """Print each signal's AUROC per kind, then the flagged shares at the saved threshold and at each signal's own."""
    from core.novelty.signals import auroc

    signals = [signal for signal in ("outlier_detector", "combined", *SIGNAL_ORDER)
               if statistics.scales or signal in OLDER_SIGNALS
               if signal != "pooled_residual" or statistics.pooled_basis is not None
               if signal != "outlier_detector" or statistics.detector is not None]
    print(f"\n{title}\nAUROC against the 10,000 test digits, per signal (all kinds; per kind):")
    aurocs, digit_scores = {}, {}
    for signal in signals:
        digit_scores[signal] = score(statistics, digits, signal)
        others = np.concatenate([score(statistics, scored[kind], signal) for kind in scored])
        aurocs[signal] = auroc(digit_scores[signal], others)
        per_kind = ", ".join(f"{kind} {auroc(digit_scores[signal], score(statistics, scored[kind], signal)):.3f}"
                             for kind in scored)
        print(f"  {signal:15s} {aurocs[signal]:.4f}   ({per_kind})")
    backstop = ("" if statistics.backstop_threshold is None else
                f", or the combined score above {statistics.backstop_threshold:.3f}, the {statistics.backstop_quantile:.1%} "
                f"quantile (the backstop)")
    print(f"at the saved threshold {statistics.threshold:.3f} ({statistics.signal}, the {statistics.quantile:.1%} quantile "
          f"of the {len(map_digits):,} map digits{backstop}):")
    for kind in scored:
        called = flagged(statistics, scored[kind])
        print(f"  {kind:12s} flagged {called.mean():6.1%}  ({int(called.sum())} of {len(called)})")
    digits_called = flagged(statistics, digits)
    print(f"  test digits  flagged {np.mean(digits_called):6.2%} of all 10,000; "
          f"{np.mean(digits_called[held_out]):6.2%} of the {len(held_out):,} the threshold was not chosen on")
    if statistics.backstop_threshold is not None:
        alone = {kind: np.mean(score(statistics, scored[kind]) > statistics.threshold) for kind in scored}
        print(f"  the detector alone (no backstop): digits {np.mean(digit_scores[statistics.signal][held_out] > statistics.threshold):.2%} "
              f"of the {len(held_out):,}; " + ", ".join(f"{kind} {rate:.1%}" for kind, rate in alone.items()))
    print(f"each signal alone, at its own {statistics.quantile:.1%} quantile of the same map digits "
          "(digits flagged of the other 5,000; each kind):")
    for signal in signals:
        threshold = float(np.quantile(digit_scores[signal][map_digits], statistics.quantile))
        print(f"  {signal:15s} digits {np.mean(digit_scores[signal][held_out] > threshold):5.2%}; "
              f"{flag_rates(statistics, scored, threshold, signal)}")
    if letter_names is not None:  # which letters pass: many are drawn as digits are (O, S, Z, I, l...)
        passed = ~flagged(statistics, scored["letters"])
        shares = {name: float(np.mean(passed[[i for i in range(len(passed)) if letter_names[i % len(letter_names)] == name]]))
                  for name in letter_names}
        most = sorted(shares, key=lambda name: -shares[name])
        print("letters passed as digits, share of each letter's renderings (the most passed first): "
              + ", ".join(f"{name} {shares[name]:.0%}" for name in most if shares[name] > 0))
        names = np.array([letter_names[i % len(letter_names)] for i in range(len(passed))])
        shaped = np.isin(names, list(DIGIT_SHAPED))
        print(f"  of the {int(passed.sum())} letters passed, {int((passed & shaped).sum())} are of the digit-shaped "
              f"letters {DIGIT_SHAPED} ({int(shaped.sum())} of the {len(passed)} rendered; {np.mean(~passed[shaped]):.1%} "
              f"of them flagged); the other letters: {np.mean(~passed[~shaped]):.1%} flagged "
              f"({int((~passed[~shaped]).sum())} of {int((~shaped).sum())})")
    before = float(np.quantile(digit_scores["nearest_digits"][map_digits], 0.99))
    print(f"the check before the combined score (nearest_digits at its 99% quantile, {before:.3f}): digits "
          f"{np.mean(digit_scores['nearest_digits'][held_out] > before):5.2%}; "
          f"{flag_rates(statistics, scored, before, 'nearest_digits')}")
    return aurocs[statistics.signal]


def parts_of(statistics, measured: tuple) -> dict[str, np.ndarray]:
    features, logits, images, pooled = measured
    return statistics.contributions(features, logits, images, pooled)


def combinations_report(statistics, digits: tuple, scored: dict, map_digits: np.ndarray, held_out: np.ndarray) -> None:
    """The combinations weighed on the tuning set: the sum (shipped), the max, and the sum without each signal."""
    digit_parts = parts_of(statistics, digits)
    kind_parts = {kind: parts_of(statistics, measured) for kind, measured in scored.items()}
    variants = {"sum of all (the combined score)": (list(digit_parts), np.sum), "max of all": (list(digit_parts), np.max)}
    for left_out in digit_parts:
        variants[f"sum without {left_out}"] = ([name for name in digit_parts if name != left_out], np.sum)
    print(f"combinations of the scaled signals, each at its own {statistics.quantile:.1%} quantile of the map digits:")
    for label, (names, reduce) in variants.items():
        digit_scores = reduce([digit_parts[name] for name in names], axis=0)
        threshold = float(np.quantile(digit_scores[map_digits], statistics.quantile))
        rates = ", ".join(f"{kind} {np.mean(reduce([parts[name] for name in names], axis=0) > threshold):.1%}"
                          for kind, parts in kind_parts.items())
        print(f"  {label:32s} digits {np.mean(digit_scores[held_out] > threshold):5.2%}; {rates}")


# letters a digit is often drawn as, or nearly: O o D Q (0), I l i j J (1), Z z (2), S s (5), b G (6), B (8), q g a (9)
DIGIT_SHAPED = "ODQoIlijJZzSsbGBqga"
SIGNAL_ORDER = ("nearest_digits", "energy", "pooled_residual", "pixel_distance", "mahalanobis", "uncertainty")
OLDER_SIGNALS = ("nearest_digits", "energy", "mahalanobis", "uncertainty")  # what a version 1 novelty.npz can score


def time_statistics(mnist, function) -> tuple[float, float]:
    """Wall and CPU seconds of `fit_digit_statistics` on the sample a run's end uses (features computed first)."""
    from core.data.splits import to_model_input
    from core.novelty.digit_statistics import fit_digit_statistics
    from core.runs.feature_files import sample_indices

    test, train = sample_indices(mnist)
    images = to_model_input(np.concatenate([mnist.x_test[test], mnist.x_train[train]]))
    features, logits, pooled = function(images)
    count = len(test)
    wall, cpu = time.perf_counter(), time.process_time()
    fit_digit_statistics(features[count:], mnist.y_train[train], features[:count], logits[:count],
                         train_images=images[count:, ..., 0], held_out_images=images[:count, ..., 0],
                         train_pooled=None if pooled is None else pooled[count:],
                         held_out_pooled=None if pooled is None else pooled[:count])
    return time.perf_counter() - wall, time.process_time() - cpu


def time_novelty_step(source, statistics, images: np.ndarray) -> tuple[float, float, float | None]:
    """Median ms per drawing of the web server's novelty step: before the combined score, with the saved signal, and
    with the combined score alone where the saved signal is the outlier detector (else None)."""
    from dataclasses import replace

    from core.models.penultimate import numpy_features_and_logits
    from core.runs.model_sources import load_source_numpy_model

    model = load_source_numpy_model(source)
    plain, pooled = numpy_features_and_logits(model), numpy_features_and_logits(model, pooled=True)
    older = replace(statistics, signal="nearest_digits", version=1, scales={}, pixel_mean=None, pixel_basis=None,
                    pixel_points=None, pooled_mean=None, pooled_basis=None)

    def before(image):
        features, logits = plain(image[None, :, :, None])
        return older.judge(features[0], logits[0])

    def after(image):
        features, logits, kept = pooled(image[None, :, :, None])
        return statistics.judge(features[0], logits[0], image=image, pooled=None if kept is None else kept[0])

    combined_only = replace(statistics, signal="combined", detector=None, detector_parts=())

    def combined(image):
        features, logits, kept = pooled(image[None, :, :, None])
        return combined_only.judge(features[0], logits[0], image=image, pooled=None if kept is None else kept[0])

    steps = [before, after] + ([combined] if statistics.detector is not None else [])
    times = {step: [] for step in steps}
    for step in steps:
        step(images[0])
    for index, image in enumerate(images):  # interleaved, each first in turn: the machine's load falls on all alike
        for step in steps[index % len(steps):] + steps[:index % len(steps)]:
            started = time.perf_counter()
            step(image)
            times[step].append(time.perf_counter() - started)
    medians = [1000 * float(np.median(times[step])) for step in steps]
    return medians[0], medians[1], medians[2] if len(medians) > 2 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=500, help="non-digits of each kind (default 500)")
    parser.add_argument("--tuning-per-kind", type=int, default=400, help="tuning non-digits of each kind (default 400; 0: skip)")
    parser.add_argument("--run", help="a run whose model and novelty.npz to measure (default: the shipped model)")
    parser.add_argument("--skip-map-timing", action="store_true")
    parser.add_argument("--umap-path", help="a folder holding umap-learn and its dependencies (pip install --target), to time UMAP too")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {load_line()}")

    from core.data.mnist import load_mnist
    from core.data.splits import to_model_input
    from core.runs.feature_files import read_digit_statistics, sample_indices, source_features_and_logits
    from core.runs.model_sources import model_sources
    from non_digits import (
        DETECTOR_FAMILY, HELD_OUT_FAMILY, LETTERS, TUNING_GLYPHS, TUNING_SEED, debian_fonts, drawn_letters, non_digits,
        printed_digits, tuning_non_digits,
    )
    from stroke_digits import template_digits

    mnist = load_mnist()
    source = next(source for source in model_sources() if (source.run_name == args.run if args.run else source.is_pretrained))
    statistics = read_digit_statistics(source)
    function = source_features_and_logits(source, pooled=True)
    print(f"model: {source.label}; statistics (format version {statistics.version}): {statistics.digits_fitted:,} training "
          f"digits, threshold {statistics.threshold:.3f} on {statistics.signal} (the {statistics.quantile:.1%} quantile of "
          f"{statistics.digits_thresholded:,} test digits); combined score's parts: {', '.join(statistics.scales) or 'none'}")
    fonts = debian_fonts()
    print(f"fonts: {len(fonts)} ({', '.join(sorted({font.stem.split('-')[0] for font in fonts}))})")
    if statistics.detector is not None:
        print(f"outlier detector (the saved signal) fitted on: {statistics.detector_fitted_on}; "
              f"its threshold on the map digits. The reported set below is in none of it (how its form was chosen: "
              f"at the end of bench/results/not_a_digit.txt).")

    def measured(images: np.ndarray) -> tuple:
        features, logits, pooled = function(images[..., None] if images.ndim == 3 else images)
        return features, logits, images.reshape(len(images), 28, 28), pooled

    started = time.perf_counter()
    letter_fonts = []
    kinds = non_digits(args.per_kind, mnist.x_test, letter_fonts=letter_fonts)
    print(f"made {sum(len(images) for images in kinds.values()):,} non-digits in {time.perf_counter() - started:.1f} s")
    test_images = to_model_input(mnist.x_test)
    digits = measured(test_images)
    map_digits = sample_indices(mnist)[0]
    held_out = np.setdiff1d(np.arange(len(test_images)), map_digits)
    scored = {kind: measured(images) for kind, images in kinds.items()}
    auroc_combined = report(statistics, digits, scored, map_digits, held_out,
                            f"THE REPORTED SET: {args.per_kind} of each kind (seed 0; Latin letters in Debian's fonts)", LETTERS)
    held_out_fonts = np.array([font is not None and font.name.startswith(HELD_OUT_FAMILY) for font in letter_fonts])
    letters_called = flagged(statistics, scored["letters"])
    for label, chosen in ((f"{HELD_OUT_FAMILY} (a family the detector never saw)", held_out_fonts),
                          (f"{DETECTOR_FAMILY} (Greek/Cyrillic glyphs of it were fitted on)", ~held_out_fonts)):
        print(f"  letters in {label}: {np.mean(letters_called[chosen]):.1%} flagged of {int(chosen.sum())}")
    printed = measured(printed_digits(args.per_kind, np.random.default_rng(32), HELD_OUT_FAMILY))
    print(f"  digits 0-9 printed in {HELD_OUT_FAMILY}'s fonts (digits, never fitted on): "
          f"{np.mean(flagged(statistics, printed)):.1%} flagged (a detector of 'typed' would flag most)")
    drawn, drawn_names = drawn_letters(12 * 10)
    drawn_flagged = flagged(statistics, measured(drawn))
    print(f"  letters drawn as strokes of Draw's brush ({', '.join(sorted(set(drawn_names)))}; 10 each): "
          f"{drawn_flagged.mean():.1%} flagged; " + ", ".join(
              f"{name} {np.mean(drawn_flagged[[i for i, n in enumerate(drawn_names) if n == name]]):.0%}"
              for name in sorted(set(drawn_names))))
    templates, template_labels = template_digits(args.per_kind)
    template_scored = measured(templates)
    template_flagged = flagged(statistics, template_scored)
    template_read = np.mean(template_scored[1].argmax(axis=1) == template_labels)
    print(f"  digits drawn as strokes of Draw's brush (bench/stroke_digits.py's templates, 8-40 px, never fitted on; the "
          f"straight 1s the detector is fitted on were added after a fit without them flagged 10% of these 1s; "
          f"read right {template_read:.1%}): {template_flagged.mean():.1%} flagged; " + ", ".join(
              f"{digit} {np.mean(template_flagged[template_labels == digit]):.0%}" for digit in range(10)))

    if args.tuning_per_kind:
        tuning = tuning_non_digits(args.tuning_per_kind, mnist.x_train)
        tuning_scored = {kind: measured(images) for kind, images in tuning.items()}
        report(statistics, digits, tuning_scored, map_digits, held_out,
               f"THE TUNING SET (what the signals, their scales and the equal weights were chosen on; not the result): "
               f"{args.tuning_per_kind} of each kind, seed {TUNING_SEED}: letters half Greek/Cyrillic in Debian's fonts "
               f"({len(TUNING_GLYPHS)} glyphs), half Latin in Pillow's own font; pairs of training digits")
        if statistics.scales:
            combinations_report(statistics, digits, tuning_scored, map_digits, held_out)

    before, after, combined_ms = time_novelty_step(source, statistics, test_images[:1000, :, :, 0])
    print(f"\nnovelty step per drawing on the web server (NumPy features + verdict, median of 1,000 test digits, interleaved): before {before:.2f} ms "
          f"(penultimate features, nearest_digits), after {after:.2f} ms (with pooled features and pixels, {statistics.signal})"
          + ("" if combined_ms is None else f"; the combined score alone {combined_ms:.2f} ms"))

    wall, cpu = time_statistics(mnist, function)
    print(f"digit statistics as a run's end fits them (10,000 training and 5,000 map digits' features given): "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU")

    map_seconds = None if args.skip_map_timing else time_map(mnist, args.umap_path)
    print(f"\nCPU: {cpu_model()}; {load_line()}")
    print(f"not_a_digit_auroc={auroc_combined:.4f}")
    if map_seconds is not None:
        print(f"map_seconds={map_seconds:.2f}")


if __name__ == "__main__":
    main()
