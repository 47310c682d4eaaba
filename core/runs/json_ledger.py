"""A small JSON object in the runs directory that the server keeps beside the run folders
(`run_owners.py`'s owners, `run_notes.py`'s titles): changed atomically under a lock.

The file is only ever replaced whole (`write_json_atomic`), so one that does not hold a JSON
object was damaged from outside (a disk fault, a hand edit). It is then kept aside as
`<name>.damaged-<time>` (`damaged_files.py`) before anything is written, never overwritten: the
ledger starts again empty, and `kept_ledger_copies` lets the Runs page say what was kept.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from core.runs.atomic_files import write_json_atomic
from core.runs.damaged_files import keep_aside, kept_copies

_lock = threading.Lock()


def _load(path: Path, writing: bool = False) -> dict:
    """The file's object, or `{}` when it is missing (or cannot be opened); a damaged file is kept aside first.

    Raises:
        OSError: when `writing` and a damaged file could not be kept aside (it must not be overwritten).
    """
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    try:
        value = json.loads(data)
    except ValueError:  # not UTF-8, not JSON, or empty
        value = None
    if isinstance(value, dict):
        return value
    try:
        keep_aside(path)
    except OSError as error:
        if writing:
            raise OSError(f"{path.name} is damaged and could not be kept aside ({error.strerror or error}); "
                          f"nothing was written. Move it away by hand.") from error
    return {}


def read_ledger(path: Path) -> dict:
    """The file's object; `{}` when it is missing or damaged (a damaged file is kept aside, never overwritten)."""
    with _lock:
        return _load(path)


def update_ledger(path: Path, change: Callable[[dict], bool]) -> None:
    """Apply `change` to the file's object and write it back if `change` returns True (one writer at a time)."""
    with _lock:
        value = _load(path, writing=True)
        if change(value):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, value)


def kept_ledger_copies(path: Path) -> list[Path]:
    """The damaged copies of the ledger `path` that were kept aside, oldest first."""
    return kept_copies(path.parent, path.name)
