"""Record that a run's worker died: its folder says `interrupted` (or why it was ended), with its finished epochs kept."""

from __future__ import annotations

import json
import os
import time

from core.runs.atomic_files import write_json_atomic
from core.runs.store import METRICS_FILE, STATUS_FILE, RunError, read_metrics, run_path
from core.training.events import ENDINGS, INTERRUPTED


def mark_interrupted(runs_dir: str | os.PathLike | None, name: str, reason: str) -> None:
    """Mark run `name` interrupted because `reason`, unless it already ended.

    The worker that trained it wrote everything up to its last finished epoch; this writes
    only the status, from the side that saw the worker go (the server, or the Ray driver).

    Raises:
        RunError: if the name is invalid.
    """
    mark_ended(runs_dir, name, INTERRUPTED, reason)


def mark_ended(runs_dir: str | os.PathLike | None, name: str, status_name: str, reason: str) -> None:
    """Mark run `name` as ended with `status_name` (one of `ENDINGS`) because `reason`, unless it already ended.

    For a run whose worker was ended from outside (it died, or was killed at the server's memory
    cap): its finished epochs stay, and the reason gains how many.

    Raises:
        RunError: if the name is invalid, or the status could not be written.
    """
    folder = run_path(runs_dir, name)
    status_path = folder / STATUS_FILE
    if not folder.is_dir() or status_path.is_symlink():
        return  # it never made its folder: nothing to mark
    try:
        status = json.loads(status_path.read_text())
    except (OSError, ValueError):
        status = {}
    if not isinstance(status, dict):
        status = {}
    if status.get("status") in ENDINGS:
        return
    epochs, _ = read_metrics(folder / METRICS_FILE)
    status.update(status=status_name, reason=f"{reason}; {len(epochs)} finished epoch(s) kept",
                  ended=time.time(), epochs_completed=len(epochs))
    try:
        write_json_atomic(status_path, status)
    except OSError as error:
        raise RunError(f"Run {name!r} could not be marked {status_name} ({error.strerror}).") from None
