"""The class's state, kept in `class.json` in the runs directory, so a server restart keeps it.

It holds the current session (opened, closed), the runs its visitors started while it was open,
their display names, the names and runs the teacher hid, and the challenge. Every change is a
read-modify-write under a lock that holds across processes, like the other ledgers
(`core.runs.json_ledger`, `core.runs.file_lock`: an `flock` on `.class.json.lock` beside it), so
several servers on one runs folder never lose each other's names or runs; the write stays atomic
(a temporary file and one rename). A damaged file is kept aside and the class starts again empty.

Only the teacher opens and closes a class, sets the challenge, hides names and runs and clears
the session: each of those takes `by_teacher` and raises `NotTeacherError` without it, whatever
the page showed, so a crafted request cannot reach them. A visitor sets only their own name.

A run belongs to the session when this server's queue started it for a visitor while the session
was open (`record_run`, called by the queue); a run folder made by the CLI, a sweep or another
machine is never listed, so it never counts.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.classroom.challenge import Challenge
from core.classroom.display_names import check_display_name
from core.runs.json_ledger import read_ledger, update_ledger
from core.runs.run_owners import forget_owner
from core.runs.store import RunError, delete_run, resolve_runs_dir, run_path

CLASS_FILE = "class.json"
MAX_RUNS_PER_SESSION = 2_000  # a session beyond this stops listing new runs (a class of 40 makes a few hundred)


_read: dict[Path, tuple[tuple, "ClassState"]] = {}  # class.json → (its stamp, the state read from it)
_read_lock = threading.Lock()


class NotTeacherError(PermissionError):
    """Only the signed-in teacher may do this; the message says so."""


@dataclass(frozen=True)
class ClassRunRecord:
    """One run of the session: who started it and when Start was pressed."""

    run_name: str
    visitor: str
    submitted: float


@dataclass(frozen=True)
class ClassState:
    """A snapshot of `class.json`."""

    session_id: str | None = None
    opened: float | None = None
    closed: float | None = None
    challenge: Challenge | None = None
    names: dict[str, str] = field(default_factory=dict)  # visitor id → display name
    hidden_visitors: frozenset[str] = frozenset()
    hidden_runs: frozenset[str] = frozenset()
    runs: tuple[ClassRunRecord, ...] = ()  # in the order they started

    @property
    def is_open(self) -> bool:
        return self.session_id is not None and self.closed is None

    def shown_name(self, visitor: str | None) -> str:
        """The name the board shows for `visitor`: theirs, "(name hidden)", or "(no name)"."""
        if visitor in self.hidden_visitors:
            return "(name hidden)"
        return self.names.get(visitor or "", "") or "(no name)"

    def counts(self, submitted: float) -> bool:
        """Whether a training started at `submitted` belongs to this session."""
        return (self.opened is not None and submitted >= self.opened
                and (self.closed is None or submitted <= self.closed))


def _text_set(value) -> frozenset[str]:
    return frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else frozenset()


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _runs(value) -> tuple[ClassRunRecord, ...]:
    if not isinstance(value, list):
        return ()
    records = []
    for item in value:
        if (isinstance(item, dict) and isinstance(item.get("run"), str) and isinstance(item.get("visitor"), str)
                and _number(item.get("submitted")) is not None):
            records.append(ClassRunRecord(item["run"], item["visitor"], _number(item["submitted"])))
    return tuple(records)


def _state(value: dict) -> ClassState:
    session = value.get("session") if isinstance(value.get("session"), dict) else {}
    names = value.get("names") if isinstance(value.get("names"), dict) else {}
    return ClassState(
        session_id=session.get("id") if isinstance(session.get("id"), str) else None,
        opened=_number(session.get("opened")), closed=_number(session.get("closed")),
        challenge=Challenge.from_dict(value.get("challenge")),
        names={k: v for k, v in names.items() if isinstance(k, str) and isinstance(v, str)},
        hidden_visitors=_text_set(value.get("hidden_visitors")), hidden_runs=_text_set(value.get("hidden_runs")),
        runs=_runs(value.get("runs")),
    )


class ClassLedger:
    """The class of the server whose runs directory is `runs_dir`.

    Args:
        runs_dir: the runs directory (None = the default one).
    """

    def __init__(self, runs_dir: str | os.PathLike | None = None):
        self.runs_dir = resolve_runs_dir(runs_dir)

    @property
    def path(self) -> Path:
        return self.runs_dir / CLASS_FILE

    def stamp(self) -> tuple | None:
        """What changes whenever `class.json` is written (it is replaced whole, so its inode changes too);
        None when there is no file."""
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns

    def state(self) -> ClassState:
        """The class as the file holds it now: read and parsed again only when the file changed (every open
        page of a class asks for it at each refresh). The state is shared: never change what it holds."""
        stamp = self.stamp()  # before reading: what is read is at least this new
        with _read_lock:
            cached = _read.get(self.path)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        state = _state(read_ledger(self.path))
        if stamp is not None:
            with _read_lock:
                _read[self.path] = (stamp, state)
        return state

    def _change(self, change) -> None:
        update_ledger(self.path, change)

    @staticmethod
    def _require_teacher(by_teacher: bool, what: str) -> None:
        if not by_teacher:
            raise NotTeacherError(f"Only the signed-in teacher can {what}. Sign in from the sidebar's Teacher box.")

    def open_class(self, by_teacher: bool, now: float | None = None) -> ClassState:
        """Start a new session (the last one's runs, names, hidden items and challenge are left behind)."""
        self._require_teacher(by_teacher, "open a class")
        now = time.time() if now is None else now

        def change(value: dict) -> bool:
            value.clear()
            value["session"] = {"id": secrets.token_hex(6), "opened": now, "closed": None}
            value.update(names={}, hidden_visitors=[], hidden_runs=[], runs=[], challenge=None)
            return True

        self._change(change)
        return self.state()

    def close_class(self, by_teacher: bool, now: float | None = None) -> None:
        """End the session: later trainings no longer join it; the board keeps showing its runs."""
        self._require_teacher(by_teacher, "close the class")
        now = time.time() if now is None else now

        def change(value: dict) -> bool:
            session = value.get("session")
            if not isinstance(session, dict) or session.get("closed") is not None:
                return False
            session["closed"] = now
            return True

        self._change(change)

    def set_challenge(self, challenge: Challenge | None, by_teacher: bool) -> None:
        """Set (or, with None, end) the challenge; runs started before `challenge.set_at` do not count."""
        self._require_teacher(by_teacher, "set the challenge")
        self._change(lambda value: value.update(challenge=None if challenge is None else challenge.to_dict()) or True)

    def hide_visitor(self, visitor: str, by_teacher: bool, hidden: bool = True) -> None:
        """Hide (or show again) `visitor`'s name on the board."""
        self._require_teacher(by_teacher, "hide a name")
        self._toggle("hidden_visitors", visitor, hidden)

    def hide_run(self, run_name: str, by_teacher: bool, hidden: bool = True) -> None:
        """Take `run_name` off the board and the leaderboard (or put it back)."""
        self._require_teacher(by_teacher, "hide a run")
        self._toggle("hidden_runs", run_name, hidden)

    def _toggle(self, key: str, item: str, present: bool) -> None:
        def change(value: dict) -> bool:
            items = [v for v in value.get(key, []) if isinstance(v, str)] if isinstance(value.get(key), list) else []
            if (item in items) == present:
                return False
            value[key] = items + [item] if present else [v for v in items if v != item]
            return True

        self._change(change)

    def set_name(self, visitor: str, name: str) -> str:
        """Give `visitor` the display `name` (checked against the class's other names, under the lock).

        Returns:
            The name as stored (tidied).

        Raises:
            DisplayNameError: the name is refused; the message says why and what to do.
        """
        chosen = []

        def change(value: dict) -> bool:
            names = value.get("names") if isinstance(value.get("names"), dict) else {}
            tidy = check_display_name(name, visitor, {k: v for k, v in names.items() if isinstance(v, str)})
            chosen.append(tidy)
            value["names"] = {**names, visitor: tidy}
            return True

        self._change(change)
        return chosen[0]

    def record_run(self, run_name: str, visitor: str, submitted: float) -> bool:
        """List `run_name` in the session if one is open and the training was started while it was.

        Returns:
            Whether it was listed.
        """
        seen = self.state()  # every Start asks: with no class open (a closed session never opens again),
        if not seen.is_open or not seen.counts(submitted):  # leave the file and its lock alone
            return False
        listed = []

        def change(value: dict) -> bool:
            state = _state(value)
            if not state.is_open or not state.counts(submitted) or len(state.runs) >= MAX_RUNS_PER_SESSION:
                return False
            if any(record.run_name == run_name for record in state.runs):
                return False
            value["runs"] = [item for item in value.get("runs", []) if isinstance(item, dict)] + [
                {"run": run_name, "visitor": visitor, "submitted": submitted}]
            listed.append(True)
            return True

        self._change(change)
        return bool(listed)

    def clear_runs(self, by_teacher: bool, keep: set[str] = frozenset()) -> list[str]:
        """Delete the session's run folders and take them off the board, except those in `keep` (still training).

        Returns:
            The names of the runs deleted.
        """
        self._require_teacher(by_teacher, "clear the class's runs")
        deleted = []
        for record in self.state().runs:
            if record.run_name in keep:
                continue
            try:
                delete_run(record.run_name, self.runs_dir)
            except RunError:  # still training in a live process (kept), or already gone (off the board all the same)
                if run_path(self.runs_dir, record.run_name).exists():
                    continue
            forget_owner(self.runs_dir, record.run_name)
            deleted.append(record.run_name)
        gone = set(deleted)
        self._change(lambda value: value.update(
            runs=[item for item in value.get("runs", []) if isinstance(item, dict) and item.get("run") not in gone]) or True)
        return deleted
