"""A title and a note for each run, set on the Runs page, so compared runs read "relu + adam" rather
than `mlp-20261201-180930-d874`.

Kept by the server in one file, `notes.json` in the runs directory (as `run_owners.py` keeps
owners): a run folder is written by its worker, and a title may be given long after. Written
atomically under a lock; a damaged file is kept aside (`json_ledger.py`), never overwritten, and
`damage_reports` says so. Titles and notes are visitors' text: they are stored as typed (cut to
their limits, control characters dropped) and every page shows them as text, never as markdown.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from core.runs.json_ledger import kept_ledger_copies, read_ledger, update_ledger
from core.runs.store import resolve_runs_dir

NOTES_FILE = "notes.json"
MAX_TITLE = 60
MAX_NOTE = 500


@dataclass(frozen=True)
class RunNote:
    title: str = ""
    note: str = ""


def _path(runs_dir) -> Path:
    return resolve_runs_dir(runs_dir) / NOTES_FILE


def _read(path: Path) -> dict[str, dict]:
    return {str(k): v for k, v in read_ledger(path).items() if isinstance(v, dict)}


def _clean(text: str, limit: int, keep_newlines: bool) -> str:
    kept = "".join(ch for ch in str(text) if (keep_newlines and ch == "\n") or unicodedata.category(ch)[0] != "C")
    return kept.strip()[:limit]


def all_notes(runs_dir: str | os.PathLike | None) -> dict[str, RunNote]:
    """Every run's title and note (runs without one are absent)."""
    notes = {}
    for name, entry in _read(_path(runs_dir)).items():
        title, note = entry.get("title", ""), entry.get("note", "")
        notes[name] = RunNote(title if isinstance(title, str) else "", note if isinstance(note, str) else "")
    return notes


def set_note(runs_dir: str | os.PathLike | None, run_name: str, title: str, note: str) -> RunNote:
    """Give `run_name` a title (at most 60 characters) and a note (at most 500); empty both to clear them."""
    saved = RunNote(_clean(title, MAX_TITLE, keep_newlines=False), _clean(note, MAX_NOTE, keep_newlines=True))

    def change(notes: dict) -> bool:
        if saved.title or saved.note:
            notes[run_name] = {"title": saved.title, "note": saved.note}
        else:
            notes.pop(run_name, None)
        return True

    update_ledger(_path(runs_dir), change)
    return saved


def forget_note(runs_dir: str | os.PathLike | None, run_name: str) -> None:
    """Drop `run_name`'s title and note (after the run was deleted)."""
    if run_name not in read_ledger(_path(runs_dir)):  # nothing to drop: no lock taken, no lock file made
        return
    update_ledger(_path(runs_dir), lambda notes: notes.pop(run_name, None) is not None)


def damage_reports(runs_dir: str | os.PathLike | None) -> list[str]:
    """One sentence per damaged `notes.json` kept aside in the runs directory: what was lost and what to do.

    Reads the file first, so damage not yet noticed is found (and the file kept aside) now.
    """
    _read(_path(runs_dir))
    return [f"{NOTES_FILE} was damaged and was kept as {kept.name}; the titles and notes it held are not shown. "
            "Copy back the ones you want from it, then delete the kept copy." for kept in kept_ledger_copies(_path(runs_dir))]
