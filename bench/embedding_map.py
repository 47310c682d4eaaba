"""The embedding map's cost in the worker (issue 20: <= 20 s for 5,000 digits), its t-SNE settings' quality, and what
following the map through the epochs adds.

Run: `python bench/embedding_map.py [--epochs 4] [--train-size 3000] [--skip-epochs]`.

1. The worker's map step, as `core.runs.feature_files.write_feature_files` does it when a run ends, step by
   step, on the shipped model (`fast`, 128 features): the penultimate layer on 15,000 digits with Keras (after
   one warm-up call: a worker has traced its model while training), the digit statistics, the PCA to 50,
   openTSNE's import (in a fresh interpreter) and its t-SNE. Wall and CPU seconds of this process (CPU counts
   every thread: Keras's, OpenBLAS's).
2. t-SNE settings against each other on the same 5,000 x 50 PCA space: CPU and wall seconds, and the map's
   quality: trustworthiness (k = 10, sklearn), the share of each digit's 10 nearest neighbours in the 50-D
   space that stay among its 10 nearest on the map, and the 10-NN label agreement on the map.
3. The map through the epochs: a LeNet-5 run with a checkpoint per epoch trained here (`--epochs`,
   `--train-size`), then `core.runs.epoch_map_files.compute_kept_epoch_features` with Keras (in line in the
   worker: each kept epoch's features of the 5,000 map digits) and `write_epoch_maps` (on the map's thread:
   each epoch's PCA to 2-D and its alignment): seconds per kept epoch. Beside it, the other design measured: a t-SNE per epoch started
   from the next epoch's layout (no exaggeration, `CHAINED_TSNE_ITERATIONS` iterations), its CPU per epoch.

Prints CPU and load first and last; the last lines are `map_worker_seconds=` (features + statistics + PCA +
openTSNE's import + its t-SNE, wall, the lab's settings) and `epoch_map_seconds_per_epoch=`.
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

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
if SHARED_MNIST.is_file():
    os.environ.setdefault("MNIST_PATH", str(SHARED_MNIST))
NEIGHBOURS = 10
CHAINED_TSNE_ITERATIONS = 100
IMPORT_CHILD = "import time; t = time.perf_counter(); c = time.process_time(); import openTSNE; " \
               "print(time.perf_counter() - t, time.process_time() - c)"


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


class Clock:
    """Wall and CPU seconds of a block (CPU: every thread of this process)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall ({self.cpu:.2f} s CPU)"


def nearest(points: np.ndarray, k: int) -> np.ndarray:
    """Each row's k nearest other rows, by Euclidean distance: int `(n, k)`."""
    points = np.asarray(points, np.float64)
    squared = (points ** 2).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * points @ points.T
    np.fill_diagonal(distances, np.inf)
    return np.argpartition(distances, k, axis=1)[:, :k]


def quality(space: np.ndarray, layout: np.ndarray, labels: np.ndarray) -> str:
    from sklearn.manifold import trustworthiness

    trust = trustworthiness(space, layout, n_neighbors=NEIGHBOURS)
    high, low = nearest(space, NEIGHBOURS), nearest(layout, NEIGHBOURS)
    kept = np.mean([len(np.intersect1d(a, b)) / NEIGHBOURS for a, b in zip(high, low)])
    agreement = np.mean(labels[low] == labels[:, None])
    return f"trustworthiness {trust:.4f}, 10-NN kept {kept:.3f}, 10-NN label agreement {agreement:.3f}"


def tsne_settings() -> dict[str, dict]:
    from core.embedding import reducers

    lab = {"early_exaggeration_iter": reducers.TSNE_EXAGGERATION_ITERATIONS, "n_iter": reducers.TSNE_ITERATIONS,
           "neighbors": reducers.TSNE_NEIGHBOURS}
    return {
        "openTSNE defaults (250 + 500 iterations)": {},
        f"{lab['early_exaggeration_iter']} + {lab['n_iter']}, Annoy neighbours (before)": {**lab, "neighbors": "annoy"},
        f"the lab's ({lab['early_exaggeration_iter']} + {lab['n_iter']}, {lab['neighbors']} neighbours)": lab,
        "the lab's, FFT gradients": {**lab, "negative_gradient_method": "fft"},
        "the lab's, 2 threads": {**lab, "n_jobs": 2},
        "the lab's, perplexity 15": {**lab, "perplexity": 15},
        "the lab's, 100 + 150 iterations": {**lab, "early_exaggeration_iter": 100, "n_iter": 150},
    }


def time_worker_map(mnist) -> float:
    """Part 1 and 2; returns the worker's whole map (wall) with the lab's t-SNE settings."""
    from openTSNE import TSNE

    from core.data.splits import to_model_input
    from core.embedding.reducers import fit_pca, tsne_2d
    from core.models.penultimate import keras_features_and_logits
    from core.runs.feature_files import sample_indices, write_digit_statistics
    from core.runs.pretrained import load_pretrained_model

    test, train = sample_indices(mnist)
    images = to_model_input(np.concatenate([mnist.x_test[test], mnist.x_train[train]]))
    function = keras_features_and_logits(load_pretrained_model())
    function(images[:512])  # Keras traces its predict once: a worker did that while training
    with Clock() as features_clock:
        features, logits = function(images)
    with Clock() as statistics_clock, tempfile.TemporaryDirectory() as folder:  # as write_feature_files calls it
        write_digit_statistics(folder, function, mnist, computed=(images, (features, logits)))
    test_features = features[: len(test)]
    with Clock() as pca_clock:
        mean, basis = fit_pca(test_features)
        reduced = (test_features - mean) @ basis
    with Clock() as svd_clock:  # what fit_pca did before (an SVD of the (n, d) matrix), for comparison
        centred = test_features.astype(np.float64) - test_features.mean(axis=0)
        np.linalg.svd(centred, full_matrices=False)
    imported_wall, imported_cpu = map(float, subprocess.run([sys.executable, "-c", IMPORT_CHILD], capture_output=True,
                                                            text=True, check=True).stdout.split())
    with Clock() as tsne_clock:
        tsne_2d(reduced)
    print(f"\n1. the worker's map step, shipped model ({features.shape[1]} features), {len(test):,} map digits:")
    print(f"  features of {len(images):,} digits (Keras)  {features_clock}")
    print(f"  digit statistics (core.novelty)      {statistics_clock}")
    print(f"  PCA to {reduced.shape[1]} (eigh of the {test_features.shape[1]} x {test_features.shape[1]} scatter)  {pca_clock}; "
          f"by an SVD of the {len(test):,} x {test_features.shape[1]} matrix, as before: {svd_clock}")
    print(f"  openTSNE import (fresh interpreter)  {imported_wall:.2f} s wall ({imported_cpu:.2f} s CPU)")
    print(f"  t-SNE, the lab's settings            {tsne_clock}")
    clocks = (features_clock, statistics_clock, pca_clock, tsne_clock)
    total_wall = sum(clock.wall for clock in clocks) + imported_wall
    total_cpu = sum(clock.cpu for clock in clocks) + imported_cpu
    print(f"  whole map step                       {total_wall:.2f} s wall ({total_cpu:.2f} s CPU); budget 20 s: "
          f"{'met' if total_wall <= 20 else 'NOT met'} here")

    print(f"\n2. t-SNE settings on the same {len(test):,} x {reduced.shape[1]} space (seed 0; quality against the 50-D space):")
    for name, settings in tsne_settings().items():
        with Clock() as clock:
            layout = TSNE(n_components=2, random_state=0, **{"n_jobs": 1, **settings}).fit(reduced.astype(np.float64))
        print(f"  {name:42s} {clock}; {quality(reduced, np.asarray(layout), mnist.y_test[test])}")
    return total_wall


def time_epoch_maps(mnist, epochs: int, train_size: int) -> float:
    """Part 3; returns the seconds per kept epoch of the map through the epochs (wall)."""
    import core  # noqa: F401  (oneDNN on before TensorFlow is imported)
    from openTSNE import TSNE

    from core.config.train_config import preset_config
    from core.data.splits import to_model_input
    from core.embedding.embedding_map import EMBEDDING_FILE, EmbeddingMap
    from core.embedding.epoch_maps import EPOCH_MAPS_FILE, EpochMaps
    from core.models.penultimate import keras_features_and_logits
    from core.runs.epoch_map_files import compute_kept_epoch_features, keras_checkpoint_features, write_epoch_maps
    from core.runs.feature_files import EMBEDDING_DIGITS_ENV, write_feature_files
    from core.runs.recorded_run import RecordedRun

    with tempfile.TemporaryDirectory() as runs_dir:
        os.environ[EMBEDDING_DIGITS_ENV] = "0"  # the run computes no map itself: this process times it
        run = RecordedRun(preset_config("lenet5", epochs=epochs, train_size=train_size, batch_size=64, validation="none",
                                        patience=0),
                          runs_dir=runs_dir, mnist=mnist)
        for event in run:
            pass
        model, name, folder = run.trainer.model, run.name, run.writer.path
        print(f"\n3. the map through the epochs: a LeNet-5 run, {epochs} epochs on {train_size:,} images "
              f"(test accuracy {event.test_accuracy:.4f}), a checkpoint per epoch")
        function = keras_features_and_logits(model)
        function(to_model_input(mnist.x_test[:512]))
        with Clock() as map_clock:
            write_feature_files(folder, function, mnist)
        features_at = keras_checkpoint_features(model, runs_dir, name)
        features_at(1, to_model_input(mnist.x_test[:512]))  # its extractor's first predict traces it (once per run)
        with Clock() as features_clock:  # in line in the worker: the Keras model is the next job's
            kept = compute_kept_epoch_features(runs_dir, name, features_at, mnist, anchor=run.writer.model_epoch)
        with Clock() as align_clock:  # on the map's thread, after the map
            seconds = write_epoch_maps(folder, kept)
        maps = EpochMaps.load(folder / EPOCH_MAPS_FILE)
        moved = len(kept.features)
        print(f"  the run's own map (features, statistics, PCA, t-SNE)   {map_clock}")
        print(f"  the map at {len(maps.epochs)} kept epochs ({moved} computed): in line, each epoch's features "
              f"{features_clock}, {features_clock.wall / moved:.2f} s wall ({features_clock.cpu / moved:.2f} s CPU) per epoch; "
              f"then on the map's thread, each epoch's PCA, the alignment and the file {align_clock}, "
              f"{align_clock.wall / moved:.3f} s wall ({align_clock.cpu / moved:.3f} s CPU) per epoch")

        embedding = EmbeddingMap.load(folder / EMBEDDING_FILE)
        images = to_model_input(mnist.x_test[embedding.indices])
        layout, chained = np.asarray(embedding.views["tsne"], np.float64), []
        for epoch in sorted(kept.features, reverse=True):
            features, _ = features_at(epoch, images)
            with Clock() as clock:
                centred = features - features.mean(axis=0)
                basis = np.linalg.svd(centred, full_matrices=False)[2][:50].T
                layout = np.asarray(TSNE(n_components=2, random_state=0, n_jobs=1, initialization=layout,
                                         early_exaggeration_iter=0, n_iter=CHAINED_TSNE_ITERATIONS).fit(centred @ basis))
            chained.append(clock)
        print(f"  the design not taken, a t-SNE per epoch from the next one's layout ({CHAINED_TSNE_ITERATIONS} iterations): "
              f"{np.mean([c.wall for c in chained]):.2f} s wall ({np.mean([c.cpu for c in chained]):.2f} s CPU) per epoch")
        epochs_clock = Clock()
        epochs_clock.wall = features_clock.wall + align_clock.wall
    return epochs_clock.wall / moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the LeNet-5 run of part 3 (default 4)")
    parser.add_argument("--train-size", type=int, default=3000, help="its training images (default 3000)")
    parser.add_argument("--skip-epochs", action="store_true", help="parts 1 and 2 only")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {load_line()}")
    import core  # noqa: F401
    from core.data.mnist import load_mnist

    mnist = load_mnist()
    map_seconds = time_worker_map(mnist)
    per_epoch = None if args.skip_epochs else time_epoch_maps(mnist, args.epochs, args.train_size)
    print(f"\nCPU: {cpu_model()}; {load_line()}")
    print(f"map_worker_seconds={map_seconds:.2f}")
    if per_epoch is not None:
        print(f"epoch_map_seconds_per_epoch={per_epoch:.2f}")


if __name__ == "__main__":
    main()
