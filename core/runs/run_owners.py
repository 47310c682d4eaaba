"""Who started each run, for a shared server: the visitor id that may delete it.

Kept by the server in one file, `owners.json` in the runs directory, rather than in the run
folders: a run is recorded by a worker (on this machine or a Ray node) that knows nothing of
visitors, and the owner is known before the folder exists. A run missing from the file (made by
the CLI, a sweep, or before this file existed) has no owner: on a hosted server only a teacher
may delete it. Written atomically, under a lock, by the one server process; a damaged file is kept
aside (`json_ledger.py`), never overwritten, and `damage_reports` says so.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.runs.json_ledger import kept_ledger_copies, read_ledger, update_ledger
from core.runs.store import resolve_runs_dir

OWNERS_FILE = "owners.json"


def _owners_path(runs_dir: str | os.PathLike | None) -> Path:
    return resolve_runs_dir(runs_dir) / OWNERS_FILE


def _read(path: Path) -> dict[str, str]:
    return {str(k): str(v) for k, v in read_ledger(path).items()}


def record_owner(runs_dir: str | os.PathLike | None, run_name: str, owner: str) -> None:
    """Note that `owner` started run `run_name`."""
    update_ledger(_owners_path(runs_dir), lambda owners: owners.update({run_name: owner}) or True)


def owner_of(runs_dir: str | os.PathLike | None, run_name: str) -> str | None:
    """The visitor id that started `run_name`, or None if no visitor did (or it is not known)."""
    return _read(_owners_path(runs_dir)).get(run_name)


def forget_owner(runs_dir: str | os.PathLike | None, run_name: str) -> None:
    """Drop `run_name` from the file (after the run was deleted)."""
    if run_name not in _read(_owners_path(runs_dir)):  # nothing to drop: no lock taken, no lock file made
        return
    update_ledger(_owners_path(runs_dir), lambda owners: owners.pop(run_name, None) is not None)


def damage_reports(runs_dir: str | os.PathLike | None) -> list[str]:
    """One sentence per damaged `owners.json` kept aside in the runs directory: what was lost and what to do.

    Reads the file first, so damage not yet noticed is found (and the file kept aside) now.
    """
    _read(_owners_path(runs_dir))
    return [f"{OWNERS_FILE} was damaged and was kept as {kept.name}; who started the runs it listed is no longer "
            "known, so on a shared server only a signed-in teacher can delete or name them. Delete the kept copy "
            "once you no longer need it." for kept in kept_ledger_copies(_owners_path(runs_dir))]
