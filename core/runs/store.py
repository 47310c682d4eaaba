"""Saved runs: one folder per training run under a runs directory; list, read and delete them.

A run folder holds:
    config.json       the TrainConfig
    status.json       running / completed / stopped / ..., with the process that owns it
    metrics.jsonl     one EpochEnd per line, appended (and fsynced) as each epoch ends
    batches.jsonl     the batch-level points (`Progress`) within the epochs, appended as they come
    controls.jsonl    the learning-rate changes made mid-run (`LearningRateChanged`), where they took effect
    model.keras       the final model, written atomically
    model.numpy.npz   the same model's layers as arrays, run without TensorFlow (`core.models.numpy_model`)
    no_numpy_model.txt  instead of model.numpy.npz when the model has no NumPy translation: why
    predictions.npz   test-set labels and probabilities (for the Errors view)
    embedding.npz     5,000 test digits' penultimate activations in 2-D, PCA and t-SNE (`core.embedding`)
    novelty.npz       class means, shared covariance and threshold of "not a digit" (`core.novelty`)
    logs/             TensorBoard event files (`tensorboard --logdir runs`)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.data.mnist import PROJECT_ROOT
from core.embedding.embedding_map import EMBEDDING_FILE
from core.novelty.digit_statistics import NOVELTY_FILE
from core.runs.atomic_files import remove_stale_temporaries
from core.models.numpy_model import NumpyModel, NumpyModelError
from core.training.events import ENDINGS, INTERRUPTED, RUNNING

RUNS_DIR_ENV = "MNIST_LAB_RUNS_DIR"
DEFAULT_RUNS_DIR = PROJECT_ROOT / "runs"
RUN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
CONFIG_FILE, STATUS_FILE, METRICS_FILE = "config.json", "status.json", "metrics.jsonl"
MODEL_FILE, PREDICTIONS_FILE, LOGS_DIR = "model.keras", "predictions.npz", "logs"
NUMPY_MODEL_FILE, NO_NUMPY_MODEL_FILE = "model.numpy.npz", "no_numpy_model.txt"  # the model for NumPy, or why none
BATCHES_FILE, CONTROLS_FILE = "batches.jsonl", "controls.jsonl"
ATOMIC_FILES = (CONFIG_FILE, STATUS_FILE, MODEL_FILE, NUMPY_MODEL_FILE, NO_NUMPY_MODEL_FILE, PREDICTIONS_FILE,  # written whole, via a temporary file
                METRICS_FILE, BATCHES_FILE, CONTROLS_FILE,  # (the appended ones when a resume cuts them back)
                EMBEDDING_FILE, NOVELTY_FILE)
CORRUPT_NUMPY_MODEL_FIX = "Delete that file to load the model with TensorFlow instead, or delete the run and retrain."


class RunError(RuntimeError):
    """A run cannot be found, named, read or written; the message says what to do."""


def resolve_runs_dir(runs_dir: str | os.PathLike | None = None) -> Path:
    """`runs_dir`, else `$MNIST_LAB_RUNS_DIR`, else `runs/` in the project."""
    chosen = runs_dir or os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_DIR
    return Path(chosen).resolve()


def shown_runs_dir(runs_dir: str | os.PathLike | None = None) -> Path:
    """The runs directory as visitors are shown it: relative to the project (`runs`), or only its
    name when it lies elsewhere; never the server's absolute path."""
    path = resolve_runs_dir(runs_dir)
    project = PROJECT_ROOT.resolve()
    return path.relative_to(project) if path.is_relative_to(project) else Path(path.name)


def run_path(runs_dir: str | os.PathLike | None, name: str) -> Path:
    """The folder of run `name`, guaranteed to lie directly inside the runs directory.

    Raises:
        RunError: if `name` is not a plain folder name (letters, digits, `_`, `.`, `-`,
            starting with a letter or digit, at most 80 characters).
    """
    if not isinstance(name, str) or not RUN_NAME_PATTERN.fullmatch(name) or ".." in name:
        raise RunError(
            f"Invalid run name {name!r}: use 1-80 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (no '/' and no '..')."
        )
    root = resolve_runs_dir(runs_dir)
    path = (root / name).resolve()
    if path.parent != root:
        raise RunError(f"Invalid run name {name!r}: it would leave the runs directory.")
    return path


def new_run_name(model: str) -> str:
    """A fresh, sortable name like `lenet5-20261122-143005-3f9a`."""
    return f"{model}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of process `pid` (to tell a live owner from a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_alive(status: dict) -> bool:
    """Whether the process that trains the run, and the one that supervises it (if any), still live.

    A worker process trains for a supervisor (the dashboard's server, or the CLI): when the
    supervisor is gone the run is orphaned, even for the moment its worker takes to notice.
    """
    supervisor = status.get("supervisor_pid")
    if supervisor is not None and not _process_alive(supervisor, status.get("supervisor_started")):
        return False
    return _process_alive(status.get("pid"), status.get("pid_started"))


def _process_alive(pid, started_at) -> bool:
    if not isinstance(pid, int):
        return False
    started = process_start_time(pid)
    if started is None:
        try:
            os.kill(pid, 0)  # no /proc (not Linux): fall back to "a process with this pid exists"
        except OSError:
            return False
        return started_at is None
    return started == started_at


@dataclass
class RunSummary:
    """What the Runs table and the other views need to know about one saved run."""

    name: str
    path: Path
    config: dict
    status: str
    reason: str
    epochs: list[dict] = field(default_factory=list)
    test_accuracy: float | None = None
    test_loss: float | None = None
    started: float | None = None
    ended: float | None = None
    problems: list[str] = field(default_factory=list)  # files missing or unreadable
    best_epoch: int | None = None  # the epoch with the lowest val_loss
    model_epoch: int | None = None  # the epoch whose model the run kept (its best, with `keep_best_epoch`)
    parent: dict | None = None  # a fork's parent: {"run": name, "epoch": the checkpoint it continued from}

    @property
    def model(self) -> str:
        return self.config.get("model", "?")

    @property
    def best_val_accuracy(self) -> float | None:
        values = [e["val_accuracy"] for e in self.epochs if e.get("val_accuracy") is not None]
        return max(values) if values else None

    @property
    def seconds(self) -> float:
        return float(sum(e.get("seconds", 0.0) for e in self.epochs))

    @property
    def has_model(self) -> bool:
        return (self.path / MODEL_FILE).is_file()

    @property
    def has_predictions(self) -> bool:
        return (self.path / PREDICTIONS_FILE).is_file()


def read_metrics(path: Path) -> tuple[list[dict], list[str]]:
    """Epoch records from `metrics.jsonl`, skipping (and reporting) lines that do not parse.

    A torn last line, left by a process killed mid-write, is dropped rather than trusted.
    """
    problems: list[str] = []
    if path.is_symlink():
        return [], [f"{path.name} is a symbolic link and was not read"]
    try:
        text = path.read_text()
    except FileNotFoundError:
        return [], []
    except (OSError, UnicodeDecodeError) as error:
        return [], [f"{path.name} unreadable ({error})"]
    epochs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("epoch"), int):
                raise ValueError("not an epoch record")
            if any(record.get(key) is not None and _number(record[key]) is None for key in EPOCH_NUMBERS):
                raise ValueError("an epoch metric is not a number")
            epochs.append(record)
        except ValueError:
            problems.append(f"{path.name} line {number} is corrupt and was skipped")
    return epochs, problems


def read_points(path: Path) -> list[dict]:
    """The records of `batches.jsonl` or `controls.jsonl`: JSON objects with a numeric `epoch` and
    `fraction`; lines that do not parse (a torn last one) are skipped, a missing file gives `[]`."""
    if path.is_symlink():
        return []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return []
    points = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and _number(record.get("epoch")) is not None and _number(record.get("fraction")) is not None:
            points.append(record)
    return points


def load_points(name: str, runs_dir: str | os.PathLike | None = None) -> tuple[list[dict], list[dict]]:
    """Run `name`'s batch-level points and its learning-rate changes, as recorded (empty for older runs).

    Raises:
        RunError: if the name is invalid.
    """
    path = run_path(runs_dir, name)
    return read_points(path / BATCHES_FILE), read_points(path / CONTROLS_FILE)


EPOCH_NUMBERS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds", "samples_per_second")


def _number(value) -> float | None:
    """`value` as a float if it is a JSON number (NaN and infinities included), else None."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _read_json(path: Path, problems: list[str]) -> dict:
    if path.is_symlink():  # planted links could point anywhere on the server
        problems.append(f"{path.name} is a symbolic link and was not read")
        return {}
    try:
        value = json.loads(path.read_text())
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        return value
    except FileNotFoundError:
        problems.append(f"{path.name} is missing")
    except (OSError, ValueError, UnicodeDecodeError) as error:
        problems.append(f"{path.name} is corrupt ({error})")
    return {}


def read_run(path: Path) -> RunSummary:
    """Read one run folder, never raising for damaged contents: problems are listed instead."""
    problems: list[str] = []
    config = _read_json(path / CONFIG_FILE, problems)
    status = _read_json(path / STATUS_FILE, problems)
    epochs, metric_problems = read_metrics(path / METRICS_FILE)
    problems += metric_problems
    expected = status.get("epochs_completed")
    if isinstance(expected, int) and len(epochs) < expected and not metric_problems:
        problems.append(f"{METRICS_FILE} is missing" if not (path / METRICS_FILE).exists()
                        else f"{METRICS_FILE} holds {len(epochs)} of the {expected} finished epochs")
    if status.get("test_accuracy") is not None:  # the run saved its model and predictions
        problems += [f"{file} is missing" for file in (MODEL_FILE, PREDICTIONS_FILE) if not (path / file).is_file()]
    state = status.get("status", INTERRUPTED if problems else RUNNING)
    reason = status.get("reason", "") if status else f"{STATUS_FILE} is missing or unreadable; {len(epochs)} finished epoch(s) kept"
    if state not in ENDINGS and not owner_alive(status):
        state = INTERRUPTED
        reason = f"its process ended before it finished; {len(epochs)} finished epoch(s) kept"
    if state not in ENDINGS + (RUNNING,):
        state = INTERRUPTED
    reason = reason if isinstance(reason, str) else repr(reason)
    return RunSummary(
        name=path.name, path=path, config=config, status=state, reason=reason, epochs=epochs,
        test_accuracy=_number(status.get("test_accuracy")), test_loss=_number(status.get("test_loss")),
        started=_number(status.get("started")), ended=_number(status.get("ended")), problems=problems,
        best_epoch=_epoch_number(status.get("best_epoch")), model_epoch=_epoch_number(status.get("model_epoch")),
        parent=_parent(status.get("parent")),
    )


def _parent(value) -> dict | None:
    """A fork's `{"run", "epoch"}` from `status.json`, or None where it is absent or damaged."""
    if not isinstance(value, dict) or not isinstance(value.get("run"), str) or _epoch_number(value.get("epoch")) is None:
        return None
    return {"run": value["run"], "epoch": value["epoch"]}


def _epoch_number(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def list_runs(runs_dir: str | os.PathLike | None = None) -> list[RunSummary]:
    """Every run folder in the runs directory, newest first; damaged runs are listed with problems.

    On the way, each folder loses the temporary files a process killed mid-write left there
    (`.model.keras.XXXXXXXX.keras` and the like, untouched for ten minutes; see
    `core.runs.atomic_files.remove_stale_temporaries`).
    """
    root = resolve_runs_dir(runs_dir)
    if not root.is_dir():
        return []
    folders = [entry for entry in root.iterdir()
               if entry.is_dir() and not entry.is_symlink() and RUN_NAME_PATTERN.fullmatch(entry.name)]
    for folder in folders:
        try:
            remove_stale_temporaries(folder, ATOMIC_FILES)
        except OSError:  # a read-only or vanished folder: listing it matters more
            pass
    runs = [read_run(folder) for folder in folders]
    return sorted(runs, key=lambda run: (run.started or 0.0, run.name), reverse=True)


def load_run(name: str, runs_dir: str | os.PathLike | None = None) -> RunSummary:
    """One run by name.

    Raises:
        RunError: if the name is invalid or no such run exists.
    """
    path = run_path(runs_dir, name)
    if not path.is_dir():
        raise RunError(f"No run named {name!r} in the runs directory. It may have been deleted; pick another run.")
    return read_run(path)


def run_file(runs_dir: str | os.PathLike | None, name: str, file: str) -> Path:
    """The path of `file` in run `name`'s folder.

    Raises:
        RunError: if the name is invalid, the run no longer exists, or `file` is a symbolic
            link (which could point outside the runs directory).
    """
    folder = run_path(runs_dir, name)
    if not folder.is_dir():
        raise RunError(f"No run named {name!r} in the runs directory. It may have been deleted; pick another run.")
    path = folder / file
    if path.is_symlink():
        raise RunError(f"Run {name!r}: {file} is a symbolic link, which is never followed. Delete the run and retrain.")
    return path


def load_model(name: str, runs_dir: str | os.PathLike | None = None):
    """The run's trained Keras model, loaded in Keras's safe mode (no code from the file runs).

    Raises:
        RunError: if the model file is missing or cannot be loaded.
    """
    return load_model_file(run_file(runs_dir, name, MODEL_FILE), f"run {name!r}")


def load_model_file(path: str | os.PathLike, what: str):
    """Load a `.keras` file in safe mode, turning any failure into a `RunError`."""
    import keras

    # Registered for deserialisation: the optimizer and the learning-rate schedule.
    import core.models.fused_adam  # noqa: F401
    import core.models.one_cycle  # noqa: F401

    path = Path(path)
    if not path.is_file():
        raise RunError(f"{what} has no saved model ({path.name} missing): it did not finish an epoch, or was damaged.")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # zip, h5 and deserialisation errors come as many types
        raise RunError(f"{what}: the model file {path.name} is corrupt or unsafe ({type(error).__name__}). Delete the run and retrain.") from None


def load_numpy_model(name: str, runs_dir: str | os.PathLike | None = None) -> NumpyModel:
    """The run's model as saved for NumPy (`model.numpy.npz`): no Keras, no TensorFlow.

    Raises:
        RunError: if the run has no such file (see `NO_NUMPY_MODEL_FILE`), it is a symbolic
            link, or it cannot be read.
    """
    return load_numpy_model_file(run_file(runs_dir, name, NUMPY_MODEL_FILE), f"Run {name!r}")


def load_numpy_model_file(path: str | os.PathLike, what: str, fix: str = CORRUPT_NUMPY_MODEL_FIX) -> NumpyModel:
    """Read a NumPy model file (`allow_pickle=False`: no code from it runs), any failure a `RunError`.

    Args:
        path: the `.numpy.npz` file.
        what: the model's name in messages, e.g. `"Run 'lenet5-…'"`.
        fix: what to do about a file that is a symbolic link or corrupt.
    """
    path = Path(path)
    if path.is_symlink():
        raise RunError(f"{what}: {path.name} is a symbolic link, which is never followed. {fix}")
    if not path.is_file():
        raise RunError(f"{what} has no NumPy model file ({path.name} missing): reload the page to load its model with TensorFlow.")
    try:
        return NumpyModel.load(path)
    except Exception as error:  # zip, npy-header and format errors come as many types
        detail = str(error) if isinstance(error, NumpyModelError) else type(error).__name__
        raise RunError(f"{what}: the NumPy model file {path.name} is corrupt ({detail}). {fix}") from None


def load_predictions(name: str, runs_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`(y_true (10000,) uint8, probabilities (10000, 10) float32)` on the test set.

    Raises:
        RunError: if the file is missing or malformed.
    """
    path = run_file(runs_dir, name, PREDICTIONS_FILE)
    if not path.is_file():
        raise RunError(f"Run {name!r} has no test predictions: it did not finish. Pick a finished run.")
    return read_predictions_file(path, f"Run {name!r}", "Delete the run and retrain.")


def read_predictions_file(path: Path, what: str, fix: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a `predictions.npz` (a run's, or a checkpoint's), any failure a `RunError` naming `what` and `fix`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            y_true, probabilities = archive["y_true"], archive["probabilities"].astype(np.float32)
    except FileNotFoundError:
        raise RunError(f"{what} has no test predictions ({path.name} missing). {fix}") from None
    except Exception as error:
        raise RunError(f"{what}: {PREDICTIONS_FILE} is corrupt ({type(error).__name__}). {fix}") from None
    if probabilities.ndim != 2 or probabilities.shape != (len(y_true), 10):
        raise RunError(f"{what}: {PREDICTIONS_FILE} has the wrong shape {probabilities.shape}. {fix}")
    return y_true, probabilities


def delete_run(name: str, runs_dir: str | os.PathLike | None = None) -> None:
    """Remove a run folder (only ever one directly inside the runs directory).

    Raises:
        RunError: if the run is still training in a live process, or does not exist.
    """
    summary = load_run(name, runs_dir)
    if summary.status == RUNNING:
        raise RunError(f"Run {name!r} is still training. Stop it first, then delete it.")
    shutil.rmtree(summary.path)


def metrics_csv(summary: RunSummary) -> str:
    """The run's per-epoch metrics as CSV text (for download)."""
    columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds", "samples_per_second"]
    lines = [",".join(columns)]
    for record in summary.epochs:
        lines.append(",".join("" if record.get(c) is None else repr(record.get(c)) for c in columns))
    return "\n".join(lines) + "\n"
