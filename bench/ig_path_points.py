"""Integrated gradients' path points: how many, and where, for the completeness test to hold on the shipped model.

Run: `PYTHONPATH=. .venv/bin/python bench/ig_path_points.py [--digits 200]` (output committed as
`bench/results/ig_path_points.txt`, ~1 minute).

A map's pixels should add up to the target logit's rise from the black baseline (completeness;
`tests/test_explain_methods.py` holds it within 5% on the first 20 test digits). The sum stands for
an integral along the path, so fewer points cost less and miss by more. For each rule (midpoints of
equal intervals, the pages' choice; the trapezoid rule; Gauss-Legendre nodes) and point count, on
the first `--digits` test digits toward their predicted class: the completeness error (largest on
the test's 20 digits; mean, p95 and largest on all; the share above 5%) and the CPU time of one map
on one BLAS thread, as the web server computes it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from core.data.mnist import load_mnist  # noqa: E402
from core.explain.logit_gradients import LogitModel  # noqa: E402
from core.models.blas_threads import one_blas_thread  # noqa: E402
from core.runs.pretrained import load_pretrained_numpy_model  # noqa: E402
from shared_machine import cpu_model  # noqa: E402

TEST_DIGITS = 20  # the completeness test's digits
BATCH_SIZE = 128  # path points per backward pass, as core/explain/integrated_gradients.py
RULES = {
    "midpoint": lambda n: ((np.arange(n) + 0.5) / n, np.full(n, 1.0 / n)),
    "trapezoid": lambda n: (np.linspace(0.0, 1.0, n), np.r_[0.5, np.ones(n - 2), 0.5] / (n - 1)),
    "gauss-legendre": lambda n: ((np.polynomial.legendre.leggauss(n)[0] + 1.0) / 2.0, np.polynomial.legendre.leggauss(n)[1] / 2.0),
}


def path_sums(model: LogitModel, images: np.ndarray, targets: np.ndarray, alphas: np.ndarray,
              weights: np.ndarray) -> np.ndarray:
    """Integrated-gradients maps `(n, 28, 28)` by the rule's points `alphas` and `weights` along the path from black."""
    path = (alphas[None, :, None, None] * images[:, None]).reshape(-1, 28, 28, 1).astype(np.float32)
    path_targets = np.repeat(targets, len(alphas))
    gradients = np.concatenate([
        model.gradients(path[start: start + BATCH_SIZE], path_targets[start: start + BATCH_SIZE]).input_gradient
        for start in range(0, len(path), BATCH_SIZE)
    ]).reshape(len(images), len(alphas), 28, 28)
    return images * np.tensordot(weights.astype(np.float32), gradients, axes=([0], [1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=200, help="test digits checked")
    args = parser.parse_args()
    os.environ.setdefault("MNIST_PATH", str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}, load average "
          + " / ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1 / 5 / 15 min)")
    model = LogitModel(load_pretrained_numpy_model())
    images = load_mnist().x_test[:args.digits].astype(np.float32) / 255.0
    with one_blas_thread():
        logits = model.logits(images[..., None])
        targets = logits.argmax(axis=1)
        black = model.logits(np.zeros((1, 28, 28, 1), np.float32))[0]
        rise = logits[np.arange(len(images)), targets] - black[targets]
        print(f"shipped model, the first {args.digits} test digits toward their predicted class; completeness error = "
              f"|map sum - logit rise| / |logit rise|")
        for name, rule in RULES.items():
            for points in (16, 24, 32, 48, 64):
                alphas, weights = rule(points)
                started = time.process_time()
                maps = path_sums(model, images, targets, alphas.astype(np.float32), weights)
                milliseconds = (time.process_time() - started) * 1000 / len(images)
                error = np.abs(maps.sum(axis=(1, 2)) - rise) / np.abs(rise)
                print(f"  {name:<15} {points:3d} points   test's {TEST_DIGITS}: max {error[:TEST_DIGITS].max():6.1%}   "
                      f"all: mean {error.mean():5.2%} p95 {np.percentile(error, 95):5.1%} max {error.max():6.1%} "
                      f"over 5% {np.mean(error > 0.05):5.1%}   {milliseconds:5.1f} ms CPU a map")
    print("load average at the end " + " / ".join(f"{value:.2f}" for value in os.getloadavg()))


if __name__ == "__main__":
    main()
