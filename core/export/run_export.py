"""A saved run's standalone training script: what `python -m core export` writes and the Runs page offers."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.config.train_config import ConfigError, TrainConfig, from_dict
from core.export.keras_script import keras_script
from core.export.numpy_script import numpy_script
from core.export.script_header import RunFacts
from core.runs.run_differences import learning_rate_story
from core.runs.store import CONTROLS_FILE, STATUS_FILE, RunSummary, load_run, read_points


class ExportError(ValueError):
    """A run's script cannot be written: the run's config is unreadable, or the file is in the way."""


def training_script(config: TrainConfig, run: RunFacts | None = None) -> str:
    """The standalone Python script that trains `config`'s model as the lab does.

    Args:
        config: the settings to train with.
        run: the run those settings come from, for the script's header; None for a config alone.

    Returns:
        The script's source text: plain Keras for the Keras zoo models, NumPy for `numpy_logreg`.
    """
    if config.model == "numpy_logreg":
        return numpy_script(config, run)
    return keras_script(config, run)


def run_facts(run: RunSummary) -> RunFacts:
    """What the header says of `run`: its ending, test accuracy, fork and mid-run learning-rate changes."""
    config = run.config
    story = learning_rate_story(config.get("learning_rate"), read_points(run.path / CONTROLS_FILE))
    changed = "→" in story
    parent = f"{run.parent['run']} at epoch {run.parent['epoch']}" if run.parent else ""
    notes = []
    resumes = resumed(run)
    if resumes:
        notes.append(f"the run was resumed from its checkpoints {len(resumes)} time(s) (the last after epoch "
                     f"{resumes[-1]['from_epoch']}, for {resumes[-1]['epochs']} epoch(s) more: {len(run.epochs)} in all); "
                     f"this script trains in one go: pass --epochs {len(run.epochs)} for as many")
    return RunFacts(name=run.name, status=run.status, reason=run.reason, epochs_completed=len(run.epochs),
                    test_accuracy=run.test_accuracy, model_epoch=run.model_epoch, parent=parent,
                    learning_rate_story=story if changed else "", notes=notes)


def resumed(run: RunSummary) -> list[dict]:
    """The resumes `status.json` records (`{"from_epoch", "epochs", ...}` each, see `core.runs.run_writer`); [] if none or unreadable."""
    try:
        records = json.loads((run.path / STATUS_FILE).read_text()).get("resumed")
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(records, list):
        return []
    return [record for record in records if isinstance(record, dict)
            and all(isinstance(record.get(key), int) and not isinstance(record.get(key), bool) for key in ("from_epoch", "epochs"))]


def run_config(run: RunSummary) -> TrainConfig:
    """The `TrainConfig` run `run` trained with.

    Raises:
        ExportError: if its `config.json` is missing, damaged or not a valid config.
    """
    if not run.config or "model" not in run.config:
        raise ExportError(f"Run {run.name!r} has no readable config.json, so its settings are unknown and no script "
                          "can be written. Export another run, or train this configuration again.")
    try:
        return from_dict(run.config)
    except ConfigError as error:
        raise ExportError(f"Run {run.name!r}'s config.json is not a valid config ({error}); no script can be written. "
                          "Export another run, or train this configuration again.") from None


def run_script(name: str, runs_dir: str | os.PathLike | None = None) -> str:
    """The standalone training script of saved run `name`.

    Raises:
        RunError: if there is no such run.
        ExportError: if its config cannot be read.
    """
    run = load_run(name, runs_dir)
    return training_script(run_config(run), run_facts(run))


def script_file_name(name: str) -> str:
    """The file a run's script is saved as by default: `train_<run>.py`."""
    return f"train_{name}.py"


def write_script(text: str, out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write a script to `out`, refusing to replace a file there unless `overwrite`.

    Raises:
        ExportError: if `out` exists (and not `overwrite`), is a folder, or cannot be written.
    """
    path = Path(out)
    if path.is_dir():
        raise ExportError(f"--out {str(path)!r} is a folder. Pass a file name, e.g. --out {path / 'train.py'}.")
    if path.exists() and not overwrite:
        raise ExportError(f"{str(path)!r} already exists. Pass --force to replace it, or another --out.")
    try:
        path.write_text(text)
    except OSError as error:
        raise ExportError(f"Could not write {str(path)!r} ({error.strerror or error}). "
                          "Pick a folder you can write to with --out.") from None
    return path
