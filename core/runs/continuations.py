"""Fork and resume: the checks a continuation from a checkpoint needs, and what a resume cuts back.

A fork is a new run that continues from any kept checkpoint of any run, with other settings but the
same architecture (`check_fork`). A resume goes on with a run itself, as it was, for more epochs.

A run killed mid-epoch (SIGKILL, a server restart) keeps every epoch whose `metrics.jsonl` line was
written, but its checkpoint of that epoch may be missing (the line is written by the thread that
reads the trainer's events, the checkpoint by the thread that trains, so either may come first).
A resume goes on from the last kept checkpoint `k`: the run folder is first cut back to epochs
`1..k` (`metrics.jsonl`, `batches.jsonl`, `controls.jsonl`, each rewritten atomically), so no epoch
is counted twice and the half epoch a kill left among the batch points is dropped; the epochs
trained next are appended after them.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from core.config.train_config import ConfigError
from core.runs.atomic_files import write_bytes_atomic
from core.runs.checkpoints import (
    CHECKPOINTS_DIR, KERAS_STATE_FILE, TRAINING_STATE_FILE, checkpoint_path, epoch_folder_name, folder_bytes,
    list_checkpoints, load_keras_state, load_training_state,
)
from core.runs.store import (
    BATCHES_FILE, CONFIG_FILE, CONTROLS_FILE, METRICS_FILE, PREDICTIONS_FILE, STATUS_FILE, RunError, load_run, run_path,
)
from core.training.epoch_estimate import split_sizes
from core.training.events import RUNNING
from core.training.one_cycle_plan import continued_cycles, describe_continued_cycles

ARCHITECTURE = ("model", "hidden_units")  # what a fork must keep: the weights' shapes follow from them
RESUME_FIX = "Train a new run instead (or fork one of the run's kept checkpoints: python -m core train --fork RUN:EPOCH)."


def check_fork(runs_dir: str | os.PathLike | None, config, parent: str, epoch: int) -> None:
    """Check that a new run with `config` may continue from run `parent`'s checkpoint at `epoch`.

    Args:
        runs_dir: the runs directory (None = the default).
        config: the fork's `TrainConfig`.
        parent: the run it continues from.
        epoch: the parent's kept checkpoint it starts from.

    Raises:
        RunError: the parent is unknown or kept no checkpoint at `epoch` (the message lists the kept ones).
        ConfigError: `config` changes the parent's architecture (`model`, `hidden_units`).
    """
    parent_config = load_run(parent, runs_dir).config
    for name in ARCHITECTURE:
        if parent_config.get(name) != getattr(config, name):
            raise ConfigError(
                f"A fork keeps its parent's architecture: run {parent!r} has `{name}`={parent_config.get(name)!r}, "
                f"this config {getattr(config, name)!r}. Pass {name}={parent_config.get(name)!r}, or train a new run."
            )
    kept = list_checkpoints(runs_dir, parent)
    if epoch not in kept:
        raise RunError(f"Run {parent!r} has no checkpoint at epoch {epoch} (kept: {', '.join(map(str, kept)) or 'none'}). "
                       f"Pick a kept epoch: python -m core runs --checkpoints {parent}")


def resume_epoch(runs_dir: str | os.PathLike | None, name: str) -> int:
    """The epoch run `name` would resume from: its last kept checkpoint.

    Args:
        runs_dir: the runs directory (None = the default).
        name: the run to resume.

    Returns:
        The epoch of the run's last kept checkpoint (1-based).

    Raises:
        RunError: the name is invalid, no such run exists, it is still training, or it kept no
            checkpoint (trained before checkpoints, with `checkpoint_budget_mb=0`, or by `numpy_logreg`);
            the message names the run and the fix.
    """
    run = load_run(name, runs_dir)  # RunError for an unknown run names it and the fix
    if run.status == RUNNING:  # read_run says running only while its process is alive
        raise RunError(f"Run {name!r} is still training. Stop it first (Stop on the Train page, or Ctrl-C), "
                       "then resume it.")
    if run.config.get("model") == "numpy_logreg":
        raise RunError(f"Run {name!r} is a `numpy_logreg` run, which cannot continue from a checkpoint. {RESUME_FIX}")
    kept = list_checkpoints(runs_dir, name)
    if not kept:
        raise RunError(f"Run {name!r} has no checkpoint to resume from (trained before checkpoints, or with "
                       f"checkpoint_budget_mb=0, or it finished no epoch). {RESUME_FIX}")
    return kept[-1]


def _kept_lines(path, epoch: int) -> tuple[bytes, bool]:
    """The lines of a JSON-lines file whose record's `epoch` is at most `epoch` (torn or unreadable lines
    dropped), and whether anything was dropped."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return b"", False
    kept, dropped = [], False
    for line in text.splitlines():
        try:
            record = json.loads(line)
            number = record.get("epoch") if isinstance(record, dict) else None
            keep = isinstance(number, (int, float)) and not isinstance(number, bool) and math.isfinite(number) \
                and number <= epoch
        except ValueError:
            keep = False
        if keep:
            kept.append(line + "\n")
        elif line.strip():
            dropped = True
    return "".join(kept).encode(), dropped


def cut_back_to(runs_dir: str | os.PathLike | None, name: str, epoch: int) -> int:
    """Drop what run `name` recorded after `epoch` (epoch records, batch points, learning-rate changes).

    Each file is rewritten atomically and only when something is dropped: a crash midway leaves each
    file either as it was or cut back, and a resume started again cuts back the rest.

    Args:
        runs_dir: the runs directory.
        name: the run.
        epoch: the last epoch to keep (the checkpoint the run resumes from).

    Returns:
        How many `metrics.jsonl` epoch records were dropped (0, or 1 where a kill came between an
        epoch's line and its checkpoint).

    Raises:
        RunError: if the name is invalid; OSError if a file cannot be written.
    """
    folder = run_path(runs_dir, name)
    dropped_epochs = 0
    for file in (METRICS_FILE, BATCHES_FILE, CONTROLS_FILE):
        path = folder / file
        if path.is_symlink():
            raise RunError(f"Run {name!r}: {file} is a symbolic link, which is never followed. Delete the run and retrain.")
        kept, dropped = _kept_lines(path, epoch)
        if dropped:
            if file == METRICS_FILE:
                before = sum(1 for line in path.read_text().splitlines() if line.strip())
                dropped_epochs = before - kept.count(b"\n")
            write_bytes_atomic(path, kept)
    return dropped_epochs


def best_of(epochs: list[dict]) -> tuple[float, int | None]:
    """`(val_loss, epoch)` of the recorded epoch with the lowest finite `val_loss` (the first of equals),
    `(inf, None)` without validation."""
    best = (math.inf, None)
    for record in epochs:
        value = record.get("val_loss")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value < best[0]:
            best = (float(value), record.get("epoch"))
    return best


def continuation_files(runs_dir: str | os.PathLike | None, name: str, epoch: int | None = None) -> dict[str, bytes]:
    """The files of run `name` that a continuation on another machine needs, by their `/`-separated path in its folder.

    A fork (`epoch` given) needs the parent's `config.json`, the `keras_state.npz` and `training_state.json` of
    its checkpoint at `epoch`, and the weights of early stopping's best epoch where that is another kept one
    (`restore_best_weights`). A resume (`epoch` None) needs the run's record (config, status, epoch records,
    points) and of its kept checkpoints only what training reads (`resume_shipping`): the whole state of the one
    it resumes from, and the weights (not the optimizer's slots) of the others its end reads: its best epoch's,
    those without test-set predictions yet (a killed run's), every one where the run's end maps the digits at
    each kept epoch; never the NumPy models and predictions the views read, which stay here. The status shipped
    says how the run reads here (`interrupted` for a run whose process died), so the other machine never
    mistakes a process of its own for the run's owner.

    Raises:
        RunError: the run or the checkpoint is missing.
    """
    run = load_run(name, runs_dir)
    folder = run_path(runs_dir, name)
    files = {CONFIG_FILE: (folder / CONFIG_FILE).read_bytes()}
    if epoch is not None:
        state = checkpoint_path(runs_dir, name, epoch) / KERAS_STATE_FILE
        if not state.is_file() or state.is_symlink():
            raise RunError(f"Run {name!r} has no checkpoint at epoch {epoch}. Pick a kept epoch: "
                           f"python -m core runs --checkpoints {name}")
        best = _patience_best_epoch(runs_dir, name, epoch)
        best = (best,) if best is not None and best != epoch and best in list_checkpoints(runs_dir, name) else ()
        fork = ResumeShipping({epoch: (KERAS_STATE_FILE, TRAINING_STATE_FILE)}, best, {})
        return {**files, **_checkpoint_files(runs_dir, name, fork)}
    try:
        status = json.loads((folder / STATUS_FILE).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        status = {}
    status = status if isinstance(status, dict) else {}
    files[STATUS_FILE] = json.dumps({**status, "status": run.status, "pid": None, "supervisor_pid": None}).encode()
    for file in (METRICS_FILE, BATCHES_FILE, CONTROLS_FILE):
        path = folder / file
        if path.is_file() and not path.is_symlink():
            files[file] = path.read_bytes()
    return {**files, **_checkpoint_files(runs_dir, name, resume_shipping(runs_dir, name))}


@dataclass(frozen=True)
class ResumeShipping:
    """What of a run's kept checkpoints a resume on another machine takes with it, and what it leaves here.

    Args:
        wanted: epoch -> the checkpoint files shipped whole (the checkpoint it resumes from).
        weights_only: the epochs whose `keras_state.npz` is shipped with the weights alone (no optimizer slots).
        elsewhere: every kept epoch -> `(bytes, has predictions)` as it is here: the other machine counts them
            in the run's disk budget and prunes them by number (`CheckpointWriter(elsewhere=...)`); this machine
            removes the ones it pruned when the run's files come back (`RunMirror.write_files`).
    """

    wanted: dict[int, tuple[str, ...]]
    weights_only: tuple[int, ...]
    elsewhere: dict[int, tuple[int, bool]]


def resume_shipping(runs_dir: str | os.PathLike | None, name: str, with_maps: bool | None = None) -> ResumeShipping:
    """The checkpoint files a resume of run `name` on another machine needs (see `ResumeShipping`).

    The checkpoint it resumes from (`resume_epoch`): its `keras_state.npz` and `training_state.json`. The weights
    of: the best epoch (lowest `val_loss`, whose model the run keeps with `keep_best_epoch`; early stopping's best,
    for `restore_best_weights`); each kept checkpoint without `predictions.npz` (a run killed before its end has
    none), from which the resumed run's end predicts the test set; and, `with_maps` (default: when runs map their
    digits, `core.runs.feature_files.embedding_digits`), every kept one, whose digits the run's end places on the
    map through the epochs.

    Raises:
        RunError: the run is missing, training, or kept no checkpoint.
    """
    if with_maps is None:
        from core.runs.feature_files import embedding_digits  # reads one setting; the map's modules load with it

        with_maps = embedding_digits() > 0
    last = resume_epoch(runs_dir, name)
    best_epochs = {best_of([e for e in load_run(name, runs_dir).epochs if e["epoch"] <= last])[1],
                   _patience_best_epoch(runs_dir, name, last)}
    weights_only, elsewhere = [], {}
    for epoch in list_checkpoints(runs_dir, name):
        folder = checkpoint_path(runs_dir, name, epoch)
        predicted = (folder / PREDICTIONS_FILE).is_file()
        elsewhere[epoch] = (folder_bytes(folder), predicted)
        if epoch != last and (with_maps or epoch in best_epochs or not predicted):
            weights_only.append(epoch)
    return ResumeShipping({last: (KERAS_STATE_FILE, TRAINING_STATE_FILE)}, tuple(weights_only), elsewhere)


def _patience_best_epoch(runs_dir, name: str, epoch: int) -> int | None:
    """Early stopping's best epoch as run `name`'s checkpoint at `epoch` saved it; None if it saved none."""
    try:
        best = load_training_state(runs_dir, name, epoch).get("patience", {}).get("best_epoch")
    except (RunError, AttributeError):
        return None
    return best if isinstance(best, int) and not isinstance(best, bool) else None


def _checkpoint_files(runs_dir, name: str, shipping: ResumeShipping) -> dict[str, bytes]:
    files = {}
    for epoch, names in shipping.wanted.items():
        folder = checkpoint_path(runs_dir, name, epoch)
        for file in names:
            path = folder / file
            if path.is_file() and not path.is_symlink():
                files[f"{CHECKPOINTS_DIR}/{epoch_folder_name(epoch)}/{file}"] = path.read_bytes()
    for epoch in shipping.weights_only:
        weights, _ = load_keras_state(runs_dir, name, epoch)
        buffer = io.BytesIO()
        np.savez(buffer, **{f"weight.{index:03d}": array for index, array in enumerate(weights)})
        files[f"{CHECKPOINTS_DIR}/{epoch_folder_name(epoch)}/{KERAS_STATE_FILE}"] = buffer.getvalue()
    return files


def continuation_schedule_note(runs_dir: str | os.PathLike | None, name: str, epoch: int, config) -> str | None:
    """Which one-cycle schedule a continuation of run `name` from its checkpoint at `epoch` with `config` (its
    `epochs`: the epochs more) will train with, in words; None for a constant rate. Said before it starts (the
    Runs page's Resume, the Train page's caption); the run's `status.json` records the same words.

    Raises:
        RunError: the checkpoint is missing or its `training_state.json` corrupt.
    """
    if config.schedule != "one_cycle":
        return None
    state = load_training_state(runs_dir, name, epoch).get("one_cycle")
    n_train, _ = split_sizes(config)
    steps_per_epoch = math.ceil(n_train / (config.batch_size or n_train))
    recorded, parent_steps = (), steps_per_epoch
    if isinstance(state, dict):
        try:
            recorded = tuple((int(start), int(end)) for start, end in state.get("cycles", ()))
            parent_steps = int(state.get("steps_per_epoch", steps_per_epoch))
        except (TypeError, ValueError):
            recorded = ()
    done = epoch * parent_steps
    cycles = continued_cycles(recorded, done, done + config.epochs * steps_per_epoch)
    return describe_continued_cycles(cycles, done, steps_per_epoch)


def place_files(folder: str | os.PathLike, files: dict[str, bytes]) -> None:
    """Write `continuation_files`' files under `folder` (a scratch copy of the run on the machine that trains).

    Raises:
        RunError: for a path that would leave `folder`.
    """
    folder = Path(folder)
    for name, data in files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or any(part in ("", ".", "..") for part in relative.parts) or "\\" in name:
            raise RunError(f"Refused to write {name!r} into a run folder: not a plain path inside it.")
        target = folder.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
