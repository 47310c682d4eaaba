"""The Runs page's table: one row per saved run, with the hyperparameters worth comparing."""

from __future__ import annotations

import time
from collections.abc import Sequence

from core.config.train_config import FIELD_TYPES
from core.runs.checkpoints import CHECKPOINTS_DIR, MEGABYTE, epochs_in, folder_bytes
from core.runs.store import RunSummary

HYPERPARAMETERS = (  # every TrainConfig knob worth comparing, in the Train form's order
    "optimizer", "learning_rate", "momentum", "schedule", "batch_size", "activation", "initializer", "hidden_units",
    "dropout", "patience", "target_accuracy", "train_size", "validation", "validation_size", "pixel_scale", "seed",
    "augment_shift", "augment_rotation", "augment_zoom", "keep_best_epoch", "checkpoint_budget_mb",
)
COLUMNS = (
    "run", "model", "status", "epochs", *HYPERPARAMETERS, "best_val_accuracy", "test_accuracy", "model_epoch",
    "checkpoints", "size_mb", "parent", "seconds", "started", "problems",
)
SHOWN_AT_FIRST = (  # the rest can be added from the page's column picker
    "run", "model", "status", "epochs", "optimizer", "learning_rate", "batch_size", "activation", "initializer",
    "train_size", "best_val_accuracy", "test_accuracy", "model_epoch", "size_mb", "parent", "seconds", "started", "problems",
)


def _number(value):
    """`value` if it is a number, else None: a damaged config.json must not break a numeric column."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value):
    return value if isinstance(value, str) else None


def _setting(name: str, value):
    """A config value as a cell of its field's type (a number or text); anything else (a damaged file) as None."""
    if FIELD_TYPES.get(name) in (int, float, "int", "float"):
        return _number(value)
    return _text(value)


def matches(row: dict, text: str) -> bool:
    """Whether every word of `text` appears in some cell of `row` (case-insensitive): the Runs filter."""
    cells = " ".join("" if value is None else str(value) for value in row.values()).lower()
    return all(word in cells for word in text.lower().split())


def _local_time(seconds) -> str | None:
    """`"2026-11-22 14:30"` from a Unix time, or None if `seconds` is not a plausible one."""
    if _number(seconds) is None:
        return None
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):
        return None


def run_row(run: RunSummary) -> dict:
    """One run as a table row; a damaged run gets `None` where its files say nothing usable."""
    config = run.config
    val_accuracies = [v for v in (_number(e.get("val_accuracy")) for e in run.epochs) if v is not None]
    return {
        "run": run.name,
        "model": _text(run.model),
        "status": run.status,
        "epochs": len(run.epochs),
        **{name: _setting(name, config.get(name)) for name in HYPERPARAMETERS},
        "best_val_accuracy": max(val_accuracies) if val_accuracies else None,
        "test_accuracy": _number(run.test_accuracy),
        "model_epoch": run.model_epoch,  # the epoch whose model the run kept (its best, with keep_best_epoch)
        "checkpoints": len(epochs_in(run.path / CHECKPOINTS_DIR)),
        "size_mb": round(folder_bytes(run.path) / MEGABYTE, 2),  # on disk; deleting the run frees it
        "parent": None if run.parent is None else f"{run.parent['run']} @ epoch {run.parent['epoch']}",  # a fork's lineage
        "seconds": round(sum(_number(e.get("seconds")) or 0.0 for e in run.epochs), 1),
        "started": _local_time(run.started),
        "problems": "; ".join(run.problems),
    }


def run_rows(runs: Sequence[RunSummary]) -> list[dict]:
    """`run_row` of each run, in the order given (`core.runs.store.list_runs` gives newest first)."""
    return [run_row(run) for run in runs]
