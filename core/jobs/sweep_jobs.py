"""Sweeps in the background for a server, and the stored sweeps read back for a page.

`SweepJobs` runs one sweep at a time on a thread that never touches Streamlit, each sweep on its
own executor made when it starts and closed when it ends. The dashboard's `TrainingJobs` keeps its
executor for single trainings, so a sweep never waits behind them, nor they behind a sweep; the
cost, with the local executor, is one more warm worker process while a sweep runs (~600-700 MiB,
and a few seconds of TensorFlow import before its first trial), and the two share the CPU when
both train. A sweep's job id is an unguessable token: a session can stop only the sweep it started.

`list_sweeps`, `load_sweep` and `trial_rows` read the studies in `sweeps.db` (any sweep's,
the command line's included) for the Sweep page's table and charts.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import optuna

from core.jobs.executor import Executor
from core.jobs.executors import make_executor
from core.jobs.sweep import (
    OBJECTIVE, SWEEPS_DB, Sweep, SweepDone, SweepsDamagedError, TrialResult, is_damage, open_storage,
)
from core.runs.damaged_files import kept_copies
from core.runs.store import resolve_runs_dir, shown_runs_dir

STARTING, RUNNING, DONE, FAILED = "starting", "running", "done", "failed"


class SweepBusyError(RuntimeError):
    """A sweep is already running on this server; the message says to wait or stop it."""


@dataclass(frozen=True)
class SweepState:
    """A snapshot of one background sweep, safe to read from any thread."""

    job_id: str
    sweep_id: str
    model: str
    trials: int
    storage: str
    notes: tuple[str, ...] = ()
    status: str = STARTING  # starting (workers warming), running, done, failed
    results: tuple[TrialResult, ...] = ()
    done: SweepDone | None = None
    error: str = ""
    stop_requested: bool = False
    started: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED)


class SweepJobs:
    """Start sweeps in the background, one at a time, and keep their latest state for pages.

    Args:
        runs_dir: where trials' runs and `sweeps.db` go (None = the default runs directory).
        mnist_path: an explicit MNIST file (None = the loader's search order).
        executor_factory: makes each sweep's executor (default `make_executor()`: the `local`
            one unless `$MNIST_LAB_EXECUTOR` says otherwise).
    """

    def __init__(self, runs_dir=None, mnist_path=None, executor_factory: Callable[[], Executor] | None = None):
        self.runs_dir = runs_dir
        self.mnist_path = None if mnist_path is None else str(mnist_path)
        self.executor_factory = executor_factory or (lambda: make_executor(mnist_path=self.mnist_path))
        self._lock = threading.Condition()
        self._states: dict[str, SweepState] = {}
        self._sweeps: dict[str, Sweep] = {}

    def start(self, model: str, search: list[str], trials: int, overrides: dict[str, Any] | None = None,
              seed: int = 0, pruning: bool = True) -> str:
        """Check the sweep, then start it in the background; returns its job id at once.

        Raises:
            ConfigError: for a bad search, override or trial count (nothing starts).
            SweepBusyError: while another sweep runs.
        """
        sweep = Sweep(None, model, search, trials, overrides, resolve_runs_dir(self.runs_dir), seed=seed,
                      pruning=pruning, mnist_path=self.mnist_path)
        job_id = secrets.token_urlsafe(12)
        with self._lock:
            busy = [state for state in self._states.values() if not state.finished]
            if busy:
                raise SweepBusyError(
                    f"A sweep ({busy[0].sweep_id}) is already running on this server, {len(busy[0].results)} of "
                    f"{busy[0].trials} trials done; start yours when it ends."
                )
            self._states[job_id] = SweepState(job_id, sweep.sweep_id, model, trials, sweep.storage, sweep.notes,
                                              started=time.time())
            self._sweeps[job_id] = sweep
        threading.Thread(target=self._run, args=(job_id, sweep), name=f"sweep-{job_id[:6]}", daemon=True).start()
        return job_id

    def get(self, job_id: str) -> SweepState | None:
        with self._lock:
            return self._states.get(job_id)

    def stop(self, job_id: str) -> None:
        """Stop a sweep: its running trials stop after their current batch; no more start."""
        with self._lock:
            sweep = self._sweeps.get(job_id)
            if sweep is None:
                return
            self._states[job_id] = replace(self._states[job_id], stop_requested=True)
        sweep.stop()

    def wait(self, job_id: str, timeout: float | None = None) -> SweepState:
        """Block until the sweep has finished (or `timeout` seconds pass); returns its state."""
        with self._lock:
            self._lock.wait_for(lambda: self._states[job_id].finished, timeout)
            return self._states[job_id]

    def _update(self, job_id: str, **changes) -> None:
        with self._lock:
            self._states[job_id] = replace(self._states[job_id], **changes)
            self._lock.notify_all()

    def _run(self, job_id: str, sweep: Sweep) -> None:
        executor = None
        try:
            executor = sweep.executor = self.executor_factory()
            if self.get(job_id).stop_requested:
                sweep.stop()
            self._update(job_id, status=RUNNING)
            results: list[TrialResult] = []
            for event in sweep:
                if isinstance(event, TrialResult):
                    results.append(event)
                    self._update(job_id, results=tuple(results))
                else:
                    self._update(job_id, status=DONE, done=event, notes=event.notes)
        except Exception as error:  # an executor that cannot start, a storage that cannot be written
            damaged = isinstance(error, SweepsDamagedError) or is_damage(error)  # named with the fix, never Optuna's text
            self._update(job_id, status=FAILED,
                         error=storage_problem(error, self.runs_dir) if damaged else str(error) or type(error).__name__)
        finally:
            with self._lock:
                self._sweeps.pop(job_id, None)
            if executor is not None:
                executor.close()


def open_sweeps(runs_dir=None) -> optuna.storages.BaseStorage | None:
    """The storage in `<runs dir>/sweeps.db`, or None while no sweep has made it.

    Opening costs about a second (Optuna checks the schema); a page keeps one and reads through it.
    """
    if not (resolve_runs_dir(runs_dir) / SWEEPS_DB).is_file():
        return None
    return open_storage(runs_dir)


def storage_problem(error: Exception, runs_dir=None) -> str:
    """What a visitor is told when the stored sweeps cannot be read: the file and the fix, never Optuna's own text."""
    if isinstance(error, SweepsDamagedError):
        return str(error)
    if is_damage(error):
        return str(SweepsDamagedError(runs_dir, "SQLite cannot read it"))
    return (f"The stored sweeps in {shown_runs_dir(runs_dir) / SWEEPS_DB} cannot be read right now "
            f"({type(error).__name__}); another process may hold it. Reload the page in a moment.")


def kept_damaged_sweeps(runs_dir=None) -> list[str]:
    """One sentence per damaged `sweeps.db` that a sweep kept aside (`<name>.damaged-<time>`), oldest first."""
    return [f"A damaged {SWEEPS_DB} was kept as {kept.name}: its sweeps are not shown. Delete it once you no longer "
            "need it." for kept in kept_copies(resolve_runs_dir(runs_dir), SWEEPS_DB)]


def list_sweeps(storage: optuna.storages.BaseStorage) -> list[str]:
    """The sweep ids in `storage`, newest first."""
    summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=False)
    newest_first = sorted(summaries, key=lambda summary: summary.datetime_start or datetime.min, reverse=True)
    return [summary.study_name for summary in newest_first]


def load_sweep(storage: optuna.storages.BaseStorage, sweep_id: str) -> optuna.Study:
    """The study of sweep `sweep_id`, read afresh (running trials included).

    Raises:
        KeyError: if `sweep_id` is not in `storage`.
    """
    return optuna.load_study(study_name=sweep_id, storage=storage)


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One plain row per trial, running ones included: number, state, best val_accuracy, knobs, run."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        intermediate = trial.intermediate_values
        best = trial.value if trial.value is not None and trial.state.name == "COMPLETE" else (
            max(intermediate.values()) if intermediate else None)
        rows.append({
            "trial": trial.number,
            "state": trial.state.name,
            OBJECTIVE: best,
            **{name: value for name, value in trial.params.items()},
            "epochs": len(intermediate),
            "run": trial.user_attrs.get("run_name", ""),
            "reason": trial.user_attrs.get("reason", ""),
        })
    return rows
