"""A small JSON object in the runs directory that the server keeps beside the run folders
(`run_owners.py`'s owners, `run_notes.py`'s titles, `core.classroom`'s `class.json`): changed
atomically under a lock that holds across processes.

Every change is a read-modify-write under `file_lock.locked` (an `flock` on `.<name>.lock`
beside the file), so several servers on one runs folder never lose each other's changes; the
write itself stays atomic (a temporary file and one `os.replace`), so a reader needs no lock
and never sees half a file.

The file is only ever replaced whole (`write_json_atomic`), so one that does not hold a JSON
object was damaged from outside (a disk fault, a hand edit). It is then kept aside as
`<name>.damaged-<time>` (`damaged_files.py`) before anything is written, never overwritten: the
ledger starts again empty, and `kept_ledger_copies` lets the Runs page say what was kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from core.runs.atomic_files import write_json_atomic
from core.runs.damaged_files import keep_aside, kept_copies
from core.runs.file_lock import locked


def _parse(path: Path) -> dict | None:
    """The file's object; `{}` when it is missing (or cannot be opened); None when it is damaged."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    try:
        value = json.loads(data)
    except ValueError:  # not UTF-8, not JSON, or empty
        value = None
    return value if isinstance(value, dict) else None


def _load_locked(path: Path, writing: bool = False) -> dict:
    """The file's object, or `{}`; a damaged file is kept aside first. Called with the file's lock held, so
    what is kept aside is the damaged file, never one another process has just written in its place.

    Raises:
        OSError: when `writing` and a damaged file could not be kept aside (it must not be overwritten).
    """
    value = _parse(path)
    if value is not None:
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
    value = _parse(path)  # no lock: the file is only ever replaced whole
    if value is not None:
        return value
    try:
        with locked(path):
            return _load_locked(path)
    except OSError:  # the lock file cannot be made (a read-only folder): the damaged file stays where it is
        return {}


def update_ledger(path: Path, change: Callable[[dict], bool]) -> None:
    """Apply `change` to the file's object and write it back if `change` returns True.

    One writer at a time, across the threads and processes of this machine: the file is read, changed and
    written with its lock held (`file_lock.locked`), so a change made by another server in between is never lost.
    """
    with locked(path):
        value = _load_locked(path, writing=True)
        if change(value):
            write_json_atomic(path, value)


def kept_ledger_copies(path: Path) -> list[Path]:
    """The damaged copies of the ledger `path` that were kept aside, oldest first."""
    return kept_copies(path.parent, path.name)
