"""A small JSON object in the runs directory that the server keeps beside the run folders
(`run_owners.py`'s owners, `run_notes.py`'s titles): read tolerantly, changed atomically under a lock."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from core.runs.atomic_files import write_json_atomic

_lock = threading.Lock()


def read_ledger(path: Path) -> dict:
    """The file's object; `{}` when it is missing, damaged or not an object."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def update_ledger(path: Path, change: Callable[[dict], bool]) -> None:
    """Apply `change` to the file's object and write it back if `change` returns True (one writer at a time)."""
    with _lock:
        value = read_ledger(path)
        if change(value):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, value)
