"""A checkpoint per epoch in a run folder, within a disk budget: written as training goes, read without TensorFlow.

A run folder's `checkpoints/` holds one folder per kept epoch (1-based, as `EpochEnd.epoch`):

    checkpoints/epoch-0003/
        model.numpy.npz      the epoch's model for NumPy (or no_numpy_model.txt: why none), as the run's own
        predictions.npz      the test set's labels and probabilities (float16), as the run's own; added when
                             the run ends
        keras_state.npz      what fork and resume need: `weight.000…` (the Keras model's `get_weights()`) and
                             `optimizer.000.<name>…` (its optimizer's variables in order, the step counter first)
        training_state.json  what else they need to go on as the run would have: early stopping's count
                             (`core.training.patience`) and, for a one-cycle run, its cycles
                             (`core.training.one_cycle_plan`); absent from checkpoints saved before it was

Each folder is written under a temporary name (`.epoch-0003.tmp-…`) and renamed when whole, so a
crash mid-write leaves no half checkpoint (`list_checkpoints` never lists a temporary folder, and
`remove_stale_checkpoint_folders` clears them). Past the run's `checkpoint_budget_mb`, a run keeps
every k-th epoch plus the first, the best (lowest `val_loss`) and the last (`kept_epochs`).

What a checkpoint costs (`bench/checkpoint_overhead.py`): the training thread copies the weights, the
optimizer state and the NumPy translation as the epoch left them; the files are written, fsynced and pruned
on a thread of their own while the next epoch trains. The test set's predictions, the costly part, are added
when the run ends, to the epochs it kept only (`CheckpointWriter.add_test_predictions`): a checkpoint of a
run still training, or of one killed mid-way, has none yet (Errors shows ended runs only).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from core.models.numpy_model import NumpyModel
from core.runs.atomic_files import atomic_path
from core.runs.store import (
    NO_NUMPY_MODEL_FILE, NUMPY_MODEL_FILE, PREDICTIONS_FILE, RunError, load_numpy_model_file, read_predictions_file,
    run_file,
)

CHECKPOINTS_DIR = "checkpoints"
KERAS_STATE_FILE = "keras_state.npz"
TRAINING_STATE_FILE = "training_state.json"
EPOCH_FOLDER_PREFIX = "epoch-"
TEMPORARY_MARK = ".tmp-"
STALE_FOLDER_SECONDS = 600.0  # no checkpoint takes this long to write: an older temporary folder was orphaned
MEGABYTE = 1_000_000
CHECKPOINT_FIX = "Pick another epoch, or delete the run and retrain."


def epoch_folder_name(epoch: int) -> str:
    """`epoch-0003` for epoch 3."""
    return f"{EPOCH_FOLDER_PREFIX}{epoch:04d}"


def epoch_of_folder(folder_name: str) -> int | None:
    """The epoch of a kept checkpoint folder's name, or None for anything else (temporary folders included)."""
    digits = folder_name[len(EPOCH_FOLDER_PREFIX):]
    if not folder_name.startswith(EPOCH_FOLDER_PREFIX) or len(digits) < 4 or not digits.isdigit():
        return None
    return int(digits) or None


def epochs_in(checkpoints: Path) -> list[int]:
    """The kept epochs in a `checkpoints/` folder, ascending; [] if it does not exist."""
    try:
        entries = list(os.scandir(checkpoints))
    except (FileNotFoundError, NotADirectoryError):
        return []
    epochs = [epoch_of_folder(entry.name) for entry in entries if entry.is_dir(follow_symlinks=False)]
    return sorted(epoch for epoch in epochs if epoch is not None)


def list_checkpoints(runs_dir: str | os.PathLike | None, name: str) -> list[int]:
    """The epochs of run `name` that have a checkpoint, ascending; [] for a run from before checkpoints.

    Raises:
        RunError: if the name is invalid or the run does not exist.
    """
    return epochs_in(run_file(runs_dir, name, CHECKPOINTS_DIR))


def checkpoint_path(runs_dir: str | os.PathLike | None, name: str, epoch: int) -> Path:
    """The folder of run `name`'s checkpoint at `epoch` (which may not exist).

    Raises:
        RunError: if the name is invalid, the run does not exist, or `epoch` is not a positive integer.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 1:
        raise RunError(f"Received an invalid value for `epoch`, expected a positive integer (1 = the first epoch). "
                       f"Received: epoch={epoch!r}")
    return run_file(runs_dir, name, CHECKPOINTS_DIR) / epoch_folder_name(int(epoch))


def _existing_checkpoint(runs_dir, name: str, epoch: int) -> Path:
    folder = checkpoint_path(runs_dir, name, epoch)
    if folder.is_symlink() or not folder.is_dir():
        kept = list_checkpoints(runs_dir, name)
        shown = ", ".join(map(str, kept)) if kept else "none"
        raise RunError(f"Run {name!r} has no checkpoint at epoch {epoch} (kept: {shown}). "
                       "Pick a kept epoch; runs trained before checkpoints have none.")
    return folder


def load_checkpoint_numpy_model(runs_dir: str | os.PathLike | None, name: str, epoch: int) -> NumpyModel:
    """Run `name`'s model as it was after `epoch`, for NumPy: no Keras, no TensorFlow.

    Raises:
        RunError: if there is no such checkpoint, it holds no NumPy model (its `no_numpy_model.txt`
            says why), or its file is corrupt.
    """
    folder = _existing_checkpoint(runs_dir, name, epoch)
    reason = folder / NO_NUMPY_MODEL_FILE
    if reason.is_file() and not reason.is_symlink():
        why = reason.read_text(errors="replace").strip()[:300]
        raise RunError(f"Run {name!r}, epoch {epoch}: the model has no NumPy translation ({why}).")
    return load_numpy_model_file(folder / NUMPY_MODEL_FILE, f"Run {name!r}, epoch {epoch}", CHECKPOINT_FIX)


def load_checkpoint_predictions(runs_dir: str | os.PathLike | None, name: str, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """`(y_true (10000,) uint8, probabilities (10000, 10) float32)` on the test set, after `epoch`.

    Raises:
        RunError: if there is no such checkpoint or its predictions are missing or malformed.
    """
    folder = _existing_checkpoint(runs_dir, name, epoch)
    return read_predictions_file(folder / PREDICTIONS_FILE, f"Run {name!r}, epoch {epoch}", CHECKPOINT_FIX)


def load_keras_state(runs_dir: str | os.PathLike | None, name: str, epoch: int) -> tuple[list[np.ndarray], list[tuple[str, np.ndarray]]]:
    """`(weights, optimizer_variables)` of run `name` after `epoch`: what `model.set_weights` and the
    optimizer's variables (in order, as `(name, value)`) take to continue exactly from there.

    Raises:
        RunError: if there is no such checkpoint or its state file is missing or corrupt.
    """
    folder = _existing_checkpoint(runs_dir, name, epoch)
    return read_keras_state(folder / KERAS_STATE_FILE, f"Run {name!r}, epoch {epoch}")


def load_training_state(runs_dir: str | os.PathLike | None, name: str, epoch: int) -> dict:
    """What run `name`'s checkpoint at `epoch` saved for a continuation besides the model (`training_state.json`:
    `{"patience": {...}, "one_cycle": {...}}`); {} for a checkpoint saved before it was.

    Raises:
        RunError: if there is no such checkpoint or the file is not a JSON object.
    """
    folder = _existing_checkpoint(runs_dir, name, epoch)
    return read_training_state(folder / TRAINING_STATE_FILE, f"Run {name!r}, epoch {epoch}")


def read_training_state(path: Path, what: str) -> dict:
    if path.is_symlink():
        raise RunError(f"{what}: {TRAINING_STATE_FILE} is a symbolic link, which is never followed. {CHECKPOINT_FIX}")
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise RunError(f"{what}: {TRAINING_STATE_FILE} is corrupt ({type(error).__name__}). {CHECKPOINT_FIX}") from None
    if not isinstance(state, dict):
        raise RunError(f"{what}: {TRAINING_STATE_FILE} is not a JSON object. {CHECKPOINT_FIX}")
    return state


def read_keras_state(path: Path, what: str) -> tuple[list[np.ndarray], list[tuple[str, np.ndarray]]]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = sorted(archive.files)
            weights = [archive[key] for key in files if key.startswith("weight.")]
            optimizer = [(key.split(".", 2)[2], archive[key]) for key in files if key.startswith("optimizer.")]
    except FileNotFoundError:
        raise RunError(f"{what}: the checkpoint has no {KERAS_STATE_FILE}. {CHECKPOINT_FIX}") from None
    except Exception as error:  # zip and npy-header errors come as many types
        raise RunError(f"{what}: {KERAS_STATE_FILE} is corrupt ({type(error).__name__}). {CHECKPOINT_FIX}") from None
    return weights, optimizer


def folder_bytes(path: str | os.PathLike) -> int:
    """The bytes of the plain files under `path` (links not followed); 0 if it does not exist."""
    total = 0
    for root, _, files in os.walk(path):
        for file in files:
            try:
                total += os.lstat(os.path.join(root, file)).st_size
            except OSError:  # removed while walking
                pass
    return total


def checkpoint_interval(budget_bytes: float, checkpoint_bytes: float, epochs: int) -> int:
    """k, where a run keeps every k-th epoch plus the first, the best and the last within `budget_bytes`.

    Args:
        budget_bytes: the run's checkpoint budget.
        checkpoint_bytes: one checkpoint's size (measured, or estimated before training).
        epochs: the epochs the run will train.

    Returns:
        1 when every epoch fits; 0 when only the first, best and last fit (no k-th epochs kept).
    """
    fits = int(budget_bytes // max(checkpoint_bytes, 1))
    if fits >= epochs:
        return 1
    spare = fits - 3  # first, best and last are always kept
    if spare < 1:
        return 0
    return max(2, math.ceil(epochs / spare))


def kept_epochs(written: list[int], best: int | None, interval: int) -> set[int]:
    """Which of the `written` epochs a run keeps: the first, the best, the last, and every `interval`-th."""
    if not written:
        return set()
    kept = {written[0], written[-1]}
    if best in written:
        kept.add(best)
    if interval:
        kept.update(epoch for epoch in written if epoch % interval == 0)
    return kept


# One checkpoint's size with each model's preset (its optimizer's state included), measured with
# `checkpoint_budget_mb`'s writer on this project's runs; a run of the same model measured here wins.
PRESET_CHECKPOINT_MB = {
    "numpy_logreg": 0.08, "softmax": 0.08, "mlp": 2.35, "cnn": 52.6, "cnn_deep": 52.6, "lenet5": 0.66, "fast": 2.53,
}
ARCHITECTURE_FIELDS = ("model", "hidden_units", "optimizer")  # what a checkpoint's size depends on


def estimated_checkpoint_mb(config, runs=()) -> float:
    """One checkpoint's size for `config`, in MB: the largest kept by an earlier run of the same model,
    width and optimizer (`runs`: `RunSummary`s), else the preset's measured size."""
    wanted = {name: getattr(config, name) for name in ARCHITECTURE_FIELDS}
    for run in runs:
        if all(run.config.get(name) == value for name, value in wanted.items()):
            folder = run.path / CHECKPOINTS_DIR
            sizes = [folder_bytes(folder / epoch_folder_name(epoch)) for epoch in epochs_in(folder)]
            if sizes:
                return max(sizes) / MEGABYTE
    return PRESET_CHECKPOINT_MB.get(config.model, 1.0)


def budget_note(budget_mb: float, checkpoint_mb: float, epochs: int) -> str:
    """What the budget means for a run, in words, e.g. "keeps every 3rd epoch plus the first, best and last: ~42 MB".

    The first, best and last epochs are kept whatever the budget: where they alone exceed it (a
    `cnn_deep` checkpoint is ~53 MB, over the default 50 MB), the note says so and by how much, so the
    Train page states the disk a run takes before Start.
    """
    if budget_mb <= 0:
        return "no checkpoints (budget 0): its epochs cannot be looked back at, forked or resumed"
    interval = checkpoint_interval(budget_mb * MEGABYTE, checkpoint_mb * MEGABYTE, epochs)
    kept = len(kept_epochs(list(range(1, epochs + 1)), None, interval)) + (1 if interval != 1 and epochs > 2 else 0)
    kept = min(kept, epochs)
    size = f"~{kept * checkpoint_mb:.3g} MB ({checkpoint_mb:.2g} MB each)"
    if interval == 1:
        return f"keeps every epoch's checkpoint: {size}"
    if interval == 0:
        text = f"keeps the first, best and last epochs only: {size}"
        if kept * checkpoint_mb > budget_mb:  # said before Start: the budget is a bound on the k-th epochs, not on these
            why = "one checkpoint alone is larger" if checkpoint_mb > budget_mb else "these are always kept"
            text += f", over the {budget_mb:g} MB budget ({why}; a budget of 0 keeps none)"
        return text
    return f"keeps every {_ordinal(interval)} epoch plus the first, best and last: {size}"


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def remove_stale_checkpoint_folders(checkpoints: Path, older_than: float = STALE_FOLDER_SECONDS) -> None:
    """Remove the temporary folders a process killed mid-checkpoint left (untouched for `older_than` seconds)."""
    now = time.time()
    try:
        entries = list(os.scandir(checkpoints))
    except OSError:
        return
    for entry in entries:
        if (entry.name.startswith("." + EPOCH_FOLDER_PREFIX) and TEMPORARY_MARK in entry.name
                and entry.is_dir(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > older_than):
            shutil.rmtree(entry.path, ignore_errors=True)


def write_checkpoint_folder(final: Path, files: dict[str, bytes]) -> None:
    """Write a checkpoint's files (by name) as the folder `final`, whole or not at all (a mirrored run's)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}{TEMPORARY_MARK}"))
    try:
        os.chmod(temporary, 0o755)
        for name, data in files.items():
            with open(temporary / name, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def same_weights(these: list[np.ndarray], those: list[np.ndarray]) -> bool:
    """Whether two Keras `get_weights()` lists are exactly equal: the same model."""
    return len(these) == len(those) and all(np.array_equal(a, b) for a, b in zip(these, those))


# A checkpoint's predictions.npz at most (float16 probabilities, uint8 labels, the zip's headers): counted in the
# budget from the epoch's end on, since the file is added when the run ends.
PREDICTIONS_BYTES_PER_IMAGE = 10 * 2 + 1
PREDICTIONS_HEADER_BYTES = 1_000


class CheckpointWriter:
    """Writes a run's checkpoint after each epoch, prunes them to the run's disk budget, and gives the kept
    ones their test-set predictions when the run ends.

    `write` is called from the thread that trains: it copies what the checkpoint holds from the model as the
    epoch left it (the NumPy translation, the weights and the optimizer state) before the next epoch changes
    it, then writes the files, renames the folder and prunes to the budget on a thread of its own while the
    next epoch trains. At most one checkpoint is in flight; `flush` waits for it (and raises what it raised,
    e.g. an `OSError` for a full disk).

    The test set's predictions (what Errors shows at epoch k) are the one costly part: the 10,000 test
    images through the model, 5-10% of a `fast` epoch here. They are made by `add_test_predictions` at the
    run's end, only for the epochs the budget kept (Errors shows a run once it has ended), each from the
    checkpoint's own weights; the epoch whose model the run keeps takes the ending's predictions.

    Args:
        run_folder: the run's folder.
        budget_mb: the run's `checkpoint_budget_mb` (> 0).
        epochs: the epochs the run will train (for the interval k).
        y_test: the test images' labels.
        translate: `model -> NumpyModel`, raising to say the model has no translation
            (`core.models.numpy_forward.translate_checked`).
        predict: `model -> probabilities (n, 10)` on the test images.
        elsewhere: a resume on another machine (`core.runs.continuations.resume_shipping`): the run's kept epochs
            as they are on the machine that submitted it, `{epoch: (bytes, has predictions)}`, of which only a few
            files came here. They count in the budget by those sizes and are pruned by number (`written` says
            which are kept; that machine removes the others); those with predictions are not predicted again.
    """

    def __init__(self, run_folder: Path, budget_mb: float, epochs: int, y_test: np.ndarray, translate, predict,
                 elsewhere: dict[int, tuple[int, bool]] | None = None):
        self.folder = Path(run_folder) / CHECKPOINTS_DIR
        self.budget_bytes = budget_mb * MEGABYTE
        self.epochs = epochs
        self.y_test = y_test
        self.translate = translate
        self.predict = predict
        self.elsewhere = dict(elsewhere or {})
        self.written: list[int] = sorted(set(epochs_in(self.folder)) | set(self.elsewhere))  # a resumed run keeps its earlier ones
        self.best_epoch: int | None = None
        self.best_val_loss = math.inf
        self.largest_bytes = 0
        self.interval = 1
        self.predictions_bytes = PREDICTIONS_HEADER_BYTES + PREDICTIONS_BYTES_PER_IMAGE * len(y_test)
        self._in_flight: threading.Thread | None = None
        self._failure: BaseException | None = None

    def write(self, epoch: int, model, val_loss: float | None, state: dict | None = None) -> Path:
        """Take epoch `epoch`'s checkpoint of `model` now; write it and prune to the budget in the background.

        `state`: what a continuation needs besides the model (`Trainer.continuation_state`), saved as
        `training_state.json`; None = none.

        Raises:
            OSError: what the previous checkpoint's write raised (a full disk, a removed folder).

        Returns:
            The checkpoint's folder (whole once `flush` returns).
        """
        self.flush()
        files = self._take(model)
        if state is not None:
            files[TRAINING_STATE_FILE] = json.dumps(state).encode()
        final = self.folder / epoch_folder_name(epoch)
        self._in_flight = threading.Thread(target=self._write_and_prune, args=(final, files, val_loss),
                                           name=f"checkpoint-{epoch}", daemon=True)
        self._in_flight.start()
        return final

    def flush(self) -> None:
        """Wait for the checkpoint in flight to be on disk; raise what its write raised, if anything."""
        if self._in_flight is not None:
            self._in_flight.join()
            self._in_flight = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def add_test_predictions(self, model, probabilities: np.ndarray) -> list[int]:
        """Give each kept checkpoint that has none its test-set predictions; at the run's end.

        Args:
            model: the run's final Keras model; its weights are as they were when this returns.
            probabilities: `model`'s own test-set probabilities (the run's ending made them): a checkpoint
                holding exactly `model`'s weights takes these instead of predicting again.

        Returns:
            The epochs given predictions.

        Raises:
            OSError: a write failed.
        """
        self.flush()
        missing = [epoch for epoch in self.written if not self.elsewhere.get(epoch, (0, False))[1]
                   and not (self.folder / epoch_folder_name(epoch) / PREDICTIONS_FILE).is_file()]
        if not missing:
            return []
        final = [np.array(array) for array in model.get_weights()]
        given = []
        try:
            for epoch in missing:
                folder = self.folder / epoch_folder_name(epoch)
                try:
                    weights, _ = read_keras_state(folder / KERAS_STATE_FILE, f"{folder}")
                except RunError:  # a damaged checkpoint: Errors says it has no predictions; the run's own are kept
                    continue
                if same_weights(weights, final):
                    taken = probabilities
                else:
                    model.set_weights(weights)
                    taken = self.predict(model)
                with atomic_path(folder / PREDICTIONS_FILE, suffix=".npz") as temporary:
                    np.savez_compressed(temporary, y_true=self.y_test, probabilities=np.asarray(taken).astype(np.float16))
                given.append(epoch)
        finally:
            model.set_weights(final)
        return given

    def _take(self, model) -> dict:
        """What a checkpoint holds, copied from `model` now: `{file name: what to write}`."""
        files = {}
        try:
            files[NUMPY_MODEL_FILE] = self.translate(model)
        except Exception as error:  # UnsupportedModel, or a translation bug: the checkpoint says why
            files[NO_NUMPY_MODEL_FILE] = f"{error}\n"
        arrays = {f"weight.{index:03d}": np.array(array) for index, array in enumerate(model.get_weights())}
        optimizer = getattr(model, "optimizer", None)
        for index, variable in enumerate(optimizer.variables if optimizer is not None else []):
            arrays[f"optimizer.{index:03d}.{variable.name}"] = np.array(variable.numpy())
        files[KERAS_STATE_FILE] = arrays
        return files

    def _write_and_prune(self, final: Path, files: dict, val_loss: float | None) -> None:
        try:
            self.folder.mkdir(exist_ok=True)
            temporary = Path(tempfile.mkdtemp(dir=self.folder, prefix=f".{final.name}{TEMPORARY_MARK}"))
            try:
                os.chmod(temporary, 0o755)  # mkdtemp's 0700 would hide checkpoints from other users of a shared server
                self._write_files(temporary, files)
                if final.exists():  # a resumed run writes an epoch again only after losing the later ones
                    shutil.rmtree(final)
                os.replace(temporary, final)
            finally:
                shutil.rmtree(temporary, ignore_errors=True)
            self.largest_bytes = max(self.largest_bytes, folder_bytes(final) + self.predictions_bytes)
            epoch = epoch_of_folder(final.name)
            if val_loss is not None and math.isfinite(val_loss) and val_loss < self.best_val_loss:
                self.best_val_loss, self.best_epoch = val_loss, epoch
            self.written = sorted(set(self.written) | {epoch})
            self._prune()
        except BaseException as error:  # raised in the training thread by the next `write` or `flush`
            self._failure = error

    def _write_files(self, folder: Path, files: dict) -> None:
        for name, content in files.items():
            if name == NUMPY_MODEL_FILE:
                content.save(folder / name)
            elif name == NO_NUMPY_MODEL_FILE:
                (folder / name).write_text(content)
            elif isinstance(content, bytes):
                (folder / name).write_bytes(content)
            else:
                np.savez(folder / name, **content)
        for file in folder.iterdir():
            with open(file, "rb+") as written:
                os.fsync(written.fileno())

    def _bytes_when_predicted(self) -> int:
        """The kept checkpoints' bytes once each has its predictions file (counted before it is written)."""
        total = 0
        for epoch in self.written:
            if epoch in self.elsewhere:  # its size where the run's folder lies
                size, predicted = self.elsewhere[epoch]
            else:
                folder = self.folder / epoch_folder_name(epoch)
                size, predicted = folder_bytes(folder), (folder / PREDICTIONS_FILE).is_file()
            total += size + (0 if predicted else self.predictions_bytes)
        return total

    def _prune(self) -> None:
        self.interval = checkpoint_interval(self.budget_bytes, self.largest_bytes, self.epochs)
        kept = kept_epochs(self.written, self.best_epoch, self.interval)
        while True:
            for epoch in set(self.written) - kept:
                shutil.rmtree(self.folder / epoch_folder_name(epoch), ignore_errors=True)
            self.written = sorted(kept)
            # Sizes vary a little (compression): widen k until the kept ones fit, first, best and last always kept.
            if self.interval == 0 or self._bytes_when_predicted() <= self.budget_bytes:
                return
            self.interval = 0 if self.interval >= self.epochs else self.interval + 1
            kept = kept_epochs(self.written, self.best_epoch, self.interval)
