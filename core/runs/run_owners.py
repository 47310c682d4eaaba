"""Who started each run, for a shared server: the visitor id that may delete it.

Kept by the server in one file, `owners.json` in the runs directory, rather than in the run
folders: a run is recorded by a worker (on this machine or a Ray node) that knows nothing of
visitors, and the owner is known before the folder exists. A run missing from the file (made by
the CLI, a sweep, or before this file existed) has no owner: on a hosted server only a teacher
may delete it. Written atomically, under a lock, by the one server process.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from core.runs.atomic_files import write_json_atomic
from core.runs.store import resolve_runs_dir

OWNERS_FILE = "owners.json"
_lock = threading.Lock()


def _owners_path(runs_dir: str | os.PathLike | None) -> Path:
    return resolve_runs_dir(runs_dir) / OWNERS_FILE


def _read(path: Path) -> dict[str, str]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):  # missing or damaged: no run has a known owner
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def record_owner(runs_dir: str | os.PathLike | None, run_name: str, owner: str) -> None:
    """Note that `owner` started run `run_name`."""
    path = _owners_path(runs_dir)
    with _lock:
        owners = _read(path)
        owners[run_name] = owner
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, owners)


def owner_of(runs_dir: str | os.PathLike | None, run_name: str) -> str | None:
    """The visitor id that started `run_name`, or None if no visitor did (or it is not known)."""
    return _read(_owners_path(runs_dir)).get(run_name)


def forget_owner(runs_dir: str | os.PathLike | None, run_name: str) -> None:
    """Drop `run_name` from the file (after the run was deleted)."""
    path = _owners_path(runs_dir)
    with _lock:
        owners = _read(path)
        if owners.pop(run_name, None) is not None:
            write_json_atomic(path, owners)
