"""A run's robustness sweep: its test accuracy at each level of each perturbation, cached in the run folder.

The predictions come from the run's saved NumPy model (`model.numpy.npz`, no TensorFlow), on
MNIST's 10,000 test digits scaled exactly as the run's own test evaluation scaled them
(`core.data.splits.to_model_input`): at each perturbation's identity level the digits are the
very inputs the run was tested on, so the accuracy there is the run's test accuracy.

The result goes to `robustness.json` (accuracies) and `robustness_samples.npz` (a strip of
perturbed digits per level), each written atomically; while a sweep runs,
`robustness.progress.json` says how far it is (levels done of levels in all). A cached result
is used while the model file it was computed from is unchanged (its size and modification
time) and the levels are the same.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from core.data.mnist import Mnist, load_mnist
from core.data.splits import to_model_input
from core.models.blas_threads import one_blas_thread
from core.models.numpy_model import NumpyModel
from core.robustness.perturbations import PERTURBATION_NAMES, PERTURBATIONS, perturbation
from core.runs.atomic_files import atomic_path, write_json_atomic
from core.runs.store import NUMPY_MODEL_FILE, RunError, load_numpy_model, load_run, run_path

ROBUSTNESS_FILE = "robustness.json"
SAMPLES_FILE = "robustness_samples.npz"
PROGRESS_FILE = "robustness.progress.json"
REPORT_ERROR_FILE = "report_error.txt"  # why the report process failed, for the page
CACHE_VERSION = 1
SWEEP_THREADS = 2  # levels computed at once: this machine's two cores, each level on one BLAS thread

OnLevel = Callable[[int, int, dict], None]  # (levels done, levels in all, the level's result)


def sample_indices(y_test: np.ndarray) -> np.ndarray:
    """The first test digit of each class, 0 to 9: the strip shown at each level."""
    return np.array([int(np.flatnonzero(y_test == digit)[0]) for digit in range(10)])


def accuracy_of(model: NumpyModel, digits: np.ndarray, y_true: np.ndarray) -> float:
    """The share of `digits` (float32 `(n, 28, 28)`) whose top class is the label."""
    probabilities = model.predict(digits[..., None])
    return float(np.mean(np.argmax(probabilities, axis=1) == y_true))


def level_count(names: Sequence[str]) -> int:
    """Model evaluations a sweep of `names` makes: the identity once, every other level once."""
    return 1 + sum(len(PERTURBATIONS[name].levels) - 1 for name in names)


def robustness_sweep(model: NumpyModel, test_images: np.ndarray, y_test: np.ndarray,
                     names: Sequence[str] = PERTURBATION_NAMES, on_level: OnLevel | None = None,
                     threads: int = SWEEP_THREADS) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Accuracy of `model` at each level of each perturbation in `names`.

    The levels are independent: `threads` of them are perturbed and evaluated at once, each in its
    own thread on one BLAS thread (`core.models.blas_threads`), and their results are taken in
    order. The identity level is evaluated once, at its first appearance: the others are the same
    inputs, and the same accuracy.

    Args:
        model: the run's NumPy model, taking float32 `(n, 28, 28, 1)` in `[0, 1]`.
        test_images: uint8 `(n, 28, 28)`, as MNIST stores them.
        y_test: uint8 `(n,)` labels.
        names: perturbations to sweep, e.g. `("rotation",)`.
        on_level: called after each level is evaluated, in order.
        threads: levels computed at once (1: one after the other).

    Returns:
        `(results, samples)`: one `{"perturbation", "level", "accuracy"}` per perturbation and
        level, in `names`' order and each perturbation's level order; and per perturbation a
        uint8 array `(levels, 10, 28, 28)`: the first test digit of each class at each level.

    Raises:
        ValueError: if a name is not a perturbation, or `threads` is below 1.
    """
    if threads < 1:
        raise ValueError(f"Received an invalid `threads`: {threads}. Pass 1 or more (1: one level after the other).")
    sweeps = [perturbation(name) for name in names]
    digits = to_model_input(test_images)[..., 0]  # float32 (n, 28, 28): the run's own test inputs
    picked = sample_indices(y_test)
    levels = [(sweep, level) for sweep in sweeps for level in sweep.levels]
    identity = next(((sweep, level) for sweep, level in levels if level == sweep.identity), None)
    evaluated = [(sweep, level) for sweep, level in levels if level != sweep.identity or (sweep, level) == identity]
    total = len(evaluated)

    def evaluate(sweep, level) -> tuple[np.ndarray, float]:
        changed = sweep.apply(digits, level)
        return np.round(changed[picked] * 255).astype(np.uint8), accuracy_of(model, changed, y_test)

    outcomes = {}  # (name, level) -> (strip row, accuracy)
    with one_blas_thread(), ThreadPoolExecutor(max_workers=threads, thread_name_prefix="robustness") as pool:
        futures = [pool.submit(evaluate, sweep, level) for sweep, level in evaluated]
        try:
            for done, ((sweep, level), future) in enumerate(zip(evaluated, futures), start=1):
                outcomes[(sweep.name, level)] = future.result()
                if on_level is not None:
                    on_level(done, total, {"perturbation": sweep.name, "level": level,
                                           "accuracy": outcomes[(sweep.name, level)][1]})
        finally:
            for future in futures:
                future.cancel()  # a failure or Ctrl-C: the levels not started are not computed
    results, samples = [], {}
    for sweep in sweeps:
        strip = []
        for level in sweep.levels:
            row, accuracy = outcomes[(sweep.name, level) if level != sweep.identity else (identity[0].name, identity[1])]
            results.append({"perturbation": sweep.name, "level": level, "accuracy": accuracy})
            strip.append(row)
        samples[sweep.name] = np.stack(strip)
    return results, samples


def model_stamp(runs_dir: str | os.PathLike | None, name: str) -> dict:
    """What a cached sweep was computed from: the NumPy model file's size and modification time, and the levels."""
    path = run_path(runs_dir, name) / NUMPY_MODEL_FILE
    try:
        info = path.stat()
    except OSError:
        return {}
    return {"version": CACHE_VERSION, "model_bytes": info.st_size, "model_mtime_ns": info.st_mtime_ns,
            "levels": {name: list(p.levels) for name, p in PERTURBATIONS.items()}}


def cached_sweep(name: str, runs_dir: str | os.PathLike | None = None) -> dict | None:
    """The run's cached sweep (`robustness.json`), or None if there is none, it is unreadable or stale.

    Returns:
        `{"run", "test_accuracy", "images", "seconds", "results": [{"perturbation", "level", "accuracy"}, ...],
        "stamp"}`.
    """
    path = run_path(runs_dir, name) / ROBUSTNESS_FILE
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cached, dict) or cached.get("stamp") != model_stamp(runs_dir, name) or not cached.get("stamp"):
        return None
    return cached


def cached_samples(name: str, runs_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The strips of perturbed digits of the run's cached sweep: uint8 `(levels, 10, 28, 28)` per perturbation ({} if none)."""
    path = run_path(runs_dir, name) / SAMPLES_FILE
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files if key in PERTURBATIONS}
    except Exception:  # missing or damaged: the report shows the accuracies without the strips
        return {}


def read_progress(name: str, runs_dir: str | os.PathLike | None = None) -> dict | None:
    """How far the run's sweep in progress is: `{"done", "total", "perturbation", "level"}`, or None."""
    try:
        progress = json.loads((run_path(runs_dir, name) / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return progress if isinstance(progress, dict) else None


def sweep_run(name: str, runs_dir: str | os.PathLike | None = None, mnist: Mnist | None = None,
              on_level: OnLevel | None = None, recompute: bool = False) -> dict:
    """The run's robustness sweep over every perturbation: the cached one, or computed now and cached.

    Args:
        name: a finished run with a NumPy model.
        runs_dir: where runs are saved (default: `$MNIST_LAB_RUNS_DIR` or `runs/`).
        mnist: MNIST (default: `load_mnist()`).
        on_level: called after each level computed (not for a cached result).
        recompute: compute even when a cached result is up to date.

    Returns:
        What `cached_sweep` returns.

    Raises:
        RunError: if the run does not exist, has no NumPy model, or its folder cannot be written.
        DatasetError: if MNIST cannot be found.
    """
    run = load_run(name, runs_dir)
    if not recompute and (cached := cached_sweep(name, runs_dir)) is not None:
        return cached
    if not (run_path(runs_dir, name) / NUMPY_MODEL_FILE).is_file():
        raise RunError(f"Run {name!r} has no NumPy model file ({NUMPY_MODEL_FILE}): a robustness sweep runs the model "
                       "without TensorFlow and needs it. Pick a run that finished with one, or retrain this one.")
    model = load_numpy_model(name, runs_dir)  # RunError naming the fix when the file is damaged
    stamp = model_stamp(runs_dir, name)
    mnist = mnist or load_mnist()
    folder = run_path(runs_dir, name)
    progress_path = folder / PROGRESS_FILE

    def report(done: int, total: int, result: dict) -> None:
        try:
            write_json_atomic(progress_path, {"done": done, "total": total, "perturbation": result["perturbation"],
                                              "level": result["level"]})
        except OSError:
            pass  # progress is a courtesy; the result's own write says whether the folder is writable
        if on_level is not None:
            on_level(done, total, result)

    started = time.perf_counter()
    try:
        results, samples = robustness_sweep(model, mnist.x_test, mnist.y_test, on_level=report)
        swept = {"run": name, "test_accuracy": run.test_accuracy, "images": int(len(mnist.y_test)),
                 "seconds": round(time.perf_counter() - started, 2), "results": results, "stamp": stamp}
        with atomic_path(folder / SAMPLES_FILE, suffix=".npz") as temporary:
            with open(temporary, "wb") as file:
                np.savez(file, **samples)
        write_json_atomic(folder / ROBUSTNESS_FILE, swept)
    except OSError as error:
        raise RunError(f"Run {name!r}: its robustness sweep could not be saved ({error.strerror or error}). "
                       "Free disk space or make the runs directory writable, then try again.") from None
    finally:
        progress_path.unlink(missing_ok=True)
    return swept


def accuracy_table(swept: dict) -> dict[str, list[tuple[float, float]]]:
    """`{perturbation: [(level, accuracy), ...]}` from a sweep's results, in level order."""
    table: dict[str, list[tuple[float, float]]] = {}
    for result in swept.get("results", []):
        table.setdefault(result["perturbation"], []).append((result["level"], result["accuracy"]))
    return table
