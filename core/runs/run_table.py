"""The Runs page's table: one row per saved run, with the hyperparameters worth comparing."""

from __future__ import annotations

import time
from collections.abc import Sequence

from core.runs.store import RunSummary

COLUMNS = (
    "run", "model", "status", "epochs", "optimizer", "learning_rate", "batch_size", "train_size",
    "best_val_accuracy", "test_accuracy", "seconds", "started", "problems",
)


def _number(value):
    """`value` if it is a number, else None: a damaged config.json must not break a numeric column."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value):
    return value if isinstance(value, str) else None


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
        "optimizer": _text(config.get("optimizer")),
        "learning_rate": _number(config.get("learning_rate")),
        "batch_size": _number(config.get("batch_size")),
        "train_size": _number(config.get("train_size")),
        "best_val_accuracy": max(val_accuracies) if val_accuracies else None,
        "test_accuracy": _number(run.test_accuracy),
        "seconds": round(sum(_number(e.get("seconds")) or 0.0 for e in run.epochs), 1),
        "started": _local_time(run.started),
        "problems": "; ".join(run.problems),
    }


def run_rows(runs: Sequence[RunSummary]) -> list[dict]:
    """`run_row` of each run, in the order given (`core.runs.store.list_runs` gives newest first)."""
    return [run_row(run) for run in runs]
