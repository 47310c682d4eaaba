"""A sweep: many trainings of one model over a search space, searched by Optuna, run by an executor.

Optuna proposes each trial's knobs (`TPESampler`, seeded) and decides which trials fall behind
(`MedianPruner`, fed every epoch's `val_accuracy` as it streams); the executor trains them, up to
`executor.slots` at once: in turn on one machine, in parallel on a Ray cluster. A pruned trial's
job is sent `Command("stop")` and ends after its current batch. Each trial is a normal run folder
(`<sweep id>-t03`), so the Runs page lists it; its name is kept as the trial's `run_name` user
attribute. The study lives in `<runs dir>/sweeps.db` (SQLite), one study per sweep named by the
sweep id, so `optuna-dashboard sqlite:///runs/sweeps.db` opens it too.

Every Optuna call runs on the thread that iterates the sweep: one light thread per running trial
only reads its job's events and hands them over through a queue.
"""

from __future__ import annotations

import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import optuna
import sqlalchemy.exc

from core.config.train_config import ConfigError, TrainConfig, preset_config
from core.jobs.executor import STOP, Command, Executor, JobError, JobHandle, JobRequest
from core.jobs.search_space import Choice, Knob, check_against, parse_search_space
from core.runs.damaged_files import DAMAGED_MARK, keep_aside
from core.runs.store import RUN_NAME_PATTERN, resolve_runs_dir, shown_runs_dir
from core.training.events import FAILED, STOPPED, EpochEnd, RunDone

SWEEPS_DB = "sweeps.db"  # in the runs directory, beside the run folders
OBJECTIVE = "val_accuracy"  # the best of the trial's epochs; the pruner sees every epoch's
COMPLETE, PRUNED, FAIL, RUNNING = "COMPLETE", "PRUNED", "FAIL", "RUNNING"  # Optuna's TrialState names
MAX_TRIALS = 500
PRUNER_STARTUP_TRIALS = 2  # trials that finish before any is pruned: the median needs company
FAILURES_IN_A_ROW = 3  # this many trials failing one after another end the sweep: the next would fail too
SWEEP_VALIDATION = "holdout"  # what a sweep validates on when the preset validates on nothing
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database (an empty file is a new one)


class SweepsDamagedError(RuntimeError):
    """`sweeps.db` is not a database SQLite can read; the message names the file and the fix.

    Attributes:
        problem: what is wrong, in a few words (e.g. "not an SQLite database").
    """

    def __init__(self, runs_dir: str | os.PathLike | None, problem: str):
        self.problem = problem
        shown = shown_runs_dir(runs_dir) / SWEEPS_DB
        super().__init__(f"{shown} is damaged ({problem}): its sweeps cannot be read. Move it aside or delete it; "
                         f"the next sweep keeps it as {SWEEPS_DB}{DAMAGED_MARK}<time> and starts a new one.")


def sweeps_db_problem(runs_dir: str | os.PathLike | None = None) -> str | None:
    """What is wrong with `<runs dir>/sweeps.db` at a glance (its header), or None if it looks sound or is absent."""
    try:
        with open(resolve_runs_dir(runs_dir) / SWEEPS_DB, "rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"it cannot be opened: {error.strerror or type(error).__name__}"
    return None if header in (b"", SQLITE_HEADER) else "not an SQLite database"


DAMAGE_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)  # "malformed", "file is not a database"


def is_damage(error: BaseException) -> bool:
    """Whether `error` (from Optuna's storage) says the database file is damaged, not busy, locked or raced.

    Only SQLite's own "corrupt" and "not a database" codes count: two processes creating a new
    `sweeps.db` at once make one of them fail a UNIQUE constraint (an `IntegrityError`, which is a
    `DatabaseError` too), and that file is sound.
    """
    cause = getattr(error, "orig", None)
    if not isinstance(cause, sqlite3.DatabaseError):
        return False
    code = getattr(cause, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in DAMAGE_CODES  # extended codes keep the primary one in their low byte
    text = str(cause).lower()
    return "file is not a database" in text or "malformed" in text


def storage_url(runs_dir: str | os.PathLike | None = None) -> str:
    """`sqlite:///<runs dir>/sweeps.db`: the Optuna storage every sweep of that runs directory shares."""
    return f"sqlite:///{resolve_runs_dir(runs_dir) / SWEEPS_DB}"


def open_storage(runs_dir: str | os.PathLike | None = None, attempts: int = 3) -> optuna.storages.RDBStorage:
    """The storage in `<runs dir>/sweeps.db`, created if new.

    Retried: two processes (a sweep and a page reading it, or two sweeps) opening a new
    `sweeps.db` at once race to create its tables, and one of them sees "table already exists".

    Raises:
        SweepsDamagedError: the file is not a database SQLite can read (never Optuna's own message).
    """
    problem = sweeps_db_problem(runs_dir)
    if problem is not None:
        raise SweepsDamagedError(runs_dir, problem)
    for attempt in range(1, attempts + 1):
        try:
            return optuna.storages.RDBStorage(storage_url(runs_dir))
        except sqlalchemy.exc.SQLAlchemyError as error:
            if is_damage(error):
                raise SweepsDamagedError(runs_dir, "SQLite cannot read it") from None
            if attempt == attempts:
                raise
            time.sleep(0.2 * attempt)


def new_sweep_id(model: str) -> str:
    """A fresh, sortable sweep id like `sweep-mlp-20261201-143005-3f9a` (also its runs' name prefix)."""
    return f"sweep-{model}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"


def trial_run_name(sweep_id: str, number: int) -> str:
    """The run folder of trial `number`: `<sweep id>-t03`."""
    return f"{sweep_id}-t{number:02d}"


@dataclass(frozen=True)
class TrialResult:
    """One finished trial: its knobs, its score and its run.

    `value` is the best `val_accuracy` of its epochs (None if none finished); `state` is
    `COMPLETE`, `PRUNED` or `FAIL`, as Optuna marks it; `run_name` is "" when no run started.
    """

    number: int
    params: dict[str, Any]
    value: float | None
    state: str
    run_name: str
    epochs: int
    reason: str
    seconds: float
    event: str = "trial"

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class SweepDone:
    """The sweep is over: the best complete trial (None if none completed) and the counts."""

    sweep_id: str
    storage: str
    best: TrialResult | None
    complete: int
    pruned: int
    failed: int
    seconds: float
    notes: tuple[str, ...] = ()
    event: str = "sweep_done"

    def to_dict(self) -> dict:
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["best"] = None if self.best is None else self.best.to_dict()
        values["notes"] = list(self.notes)
        return values


@dataclass
class _LiveTrial:
    """A running trial, seen from the sweep's thread."""

    trial: optuna.Trial
    handle: JobHandle
    run_name: str
    params: dict[str, Any]
    started: float = field(default_factory=time.monotonic)
    epochs: int = 0
    best: float | None = None
    pruned_at: int | None = None  # the epoch after which the pruner stopped it


def sweep_base_config(model: str, overrides: dict[str, Any] | None = None) -> tuple[TrainConfig, tuple[str, ...]]:
    """The config every trial starts from: `model`'s preset, `overrides` on top, with validation on.

    Returns:
        `(config, notes)`; a note says so when the sweep turned validation on.

    Raises:
        ConfigError: for an unknown model, an invalid override, or `validation='none'` asked for.
    """
    overrides = dict(overrides or {})
    if overrides.get("validation") == "none":
        raise ConfigError(
            f"A sweep scores each trial by its `{OBJECTIVE}`, so it needs validation. "
            "Pass `validation='holdout'` or `'test'`, or leave `validation` unset."
        )
    config = preset_config(model, **overrides)
    notes: tuple[str, ...] = ()
    if config.validation == "none":
        config = config.replace(validation=SWEEP_VALIDATION)
        notes = (
            f"The `{model}` preset validates on nothing; this sweep holds out {config.validation_size:,} "
            f"training images (validation='{SWEEP_VALIDATION}') to score each trial by its {OBJECTIVE}.",
        )
    return config, notes


def _distribution(knob: Knob) -> optuna.distributions.BaseDistribution:
    if isinstance(knob, Choice):
        return optuna.distributions.CategoricalDistribution(knob.choices)
    if knob.kind == "int":
        return optuna.distributions.IntDistribution(knob.low, knob.high, log=knob.log)
    return optuna.distributions.FloatDistribution(knob.low, knob.high, log=knob.log)


class Sweep:
    """Train `trials` configs of `model` drawn from `search_space`, through `executor`.

    Args:
        executor: where trials train, up to `executor.slots` at once; None = set `sweep.executor`
            before iterating (so bad input is refused before any worker starts).
        model: a zoo model; its preset is every trial's starting point.
        search_space: texts such as `"learning_rate=1e-4:1e-1:log"` (see `core.jobs.search_space`),
            or what `parse_search_space` returned.
        trials: how many trials to run, 1 to `MAX_TRIALS`.
        overrides: knobs fixed for every trial (e.g. `epochs`, `train_size`), on top of the preset.
        runs_dir: where the trials' run folders and `sweeps.db` go (None = the default runs directory).
        seed: the sampler's seed: the same seed and space propose the same first trials.
        pruning: stop trials whose `val_accuracy` falls below the median of earlier trials at
            the same epoch (`MedianPruner`); False runs every trial to its end.
        sweep_id: the study's name and the runs' prefix (None = a fresh `new_sweep_id`).
        mnist_path: the MNIST file the trainings load (None = the loader's search order).

    Raises:
        ConfigError: for a bad search, override, trial count or sweep id (before anything runs).

    Iterating yields one `TrialResult` per finished trial, in the order they finish, then one
    `SweepDone`. `stop()`, from any thread, stops the running trials and asks for no more.
    """

    def __init__(self, executor: Executor | None, model: str, search_space: Iterable[str] | dict[str, Knob], trials: int,
                 overrides: dict[str, Any] | None = None, runs_dir: str | os.PathLike | None = None, seed: int = 0,
                 pruning: bool = True, sweep_id: str | None = None, mnist_path: str | None = None):
        self.space = dict(search_space) if isinstance(search_space, dict) else parse_search_space(search_space)
        if not isinstance(trials, int) or isinstance(trials, bool) or not 1 <= trials <= MAX_TRIALS:
            raise ConfigError(f"Received an invalid value for `trials`, expected an integer in [1, {MAX_TRIALS}]. Received: trials={trials!r}")
        both = sorted(set(self.space) & set(overrides or {}))
        if both:
            raise ConfigError(f"`{both[0]}` is both fixed and searched. Drop its fixed value or its search.")
        validation = self.space.get("validation")
        if isinstance(validation, Choice) and "none" in validation.choices:
            raise ConfigError(f"A sweep scores each trial by its `{OBJECTIVE}`: drop `none` from the `validation` search.")
        self.base, self.notes = sweep_base_config(model, overrides)
        check_against(self.space, self.base)
        self.sweep_id = sweep_id or new_sweep_id(model)
        if not RUN_NAME_PATTERN.fullmatch(trial_run_name(self.sweep_id, 0)):
            raise ConfigError(f"Invalid sweep id {self.sweep_id!r}: use letters, digits, '_', '.' or '-' (at most 70 characters).")
        self.executor = executor
        self.model = model
        self.trials = trials
        self.runs_dir = resolve_runs_dir(runs_dir)
        self.storage = storage_url(self.runs_dir)
        self.seed = seed
        self.pruning = pruning
        self.mnist_path = None if mnist_path is None else str(mnist_path)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._live: dict[int, _LiveTrial] = {}

    def stop(self) -> None:
        """Stop the running trials after their current batch and start no more; the sweep then ends."""
        self._stopping.set()
        with self._lock:
            handles = [live.handle for live in self._live.values()]
        for handle in handles:
            handle.send(Command(STOP))

    def create_study(self) -> optuna.Study:
        """The sweep's Optuna study in `sweeps.db`, with its sampler, pruner and a record of the sweep."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        # TPE samples at random for its first trials (10 by default): half the sweep here, so a short sweep models too
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=min(10, max(2, self.trials // 2)))
        pruner = (optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=0)
                  if self.pruning else optuna.pruners.NopPruner())
        try:
            storage = open_storage(self.runs_dir)
        except SweepsDamagedError as damaged:  # kept aside, never lost; this sweep starts a new sweeps.db
            kept = keep_aside(self.runs_dir / SWEEPS_DB)
            self.notes = (*self.notes, f"{shown_runs_dir(self.runs_dir) / SWEEPS_DB} was damaged ({damaged.problem}) "
                                       f"and was kept as {kept.name}; this sweep started a new one.")
            storage = open_storage(self.runs_dir)
        try:
            study = optuna.create_study(storage=storage, study_name=self.sweep_id,
                                        direction="maximize", sampler=sampler, pruner=pruner)
        except optuna.exceptions.DuplicatedStudyError:
            raise ConfigError(f"A sweep named {self.sweep_id!r} is already in {self.storage}. Pick another name.") from None
        for key, value in dict(model=self.model, search_space=[knob.text() for knob in self.space.values()],
                               base_config=self.base.to_dict(), trials=self.trials, seed=self.seed,
                               pruning=self.pruning, objective=OBJECTIVE, notes=list(self.notes)).items():
            study.set_user_attr(key, value)
        return study

    def __iter__(self) -> Iterator[TrialResult | SweepDone]:
        assert self.executor is not None, "set `sweep.executor` before iterating"
        started = time.monotonic()
        study = self.create_study()
        distributions = {name: _distribution(knob) for name, knob in self.space.items()}
        messages: queue.Queue = queue.Queue()  # (trial number, event or error) from the reader threads
        results: list[TrialResult] = []
        asked = 0
        notes = list(self.notes)
        try:
            while True:
                while not self._stopping.is_set() and asked < self.trials and len(self._live) < self.executor.slots:
                    asked += 1
                    failed = self._start_trial(study, distributions, messages)
                    if failed is not None:
                        yield self._record(failed, results, notes)
                if not self._live:
                    break
                number, item = messages.get()
                result = self._on_message(study, self._live[number], item)
                if result is not None:
                    with self._lock:
                        del self._live[number]
                    yield self._record(result, results, notes)
        finally:
            self._abandon(study)
        complete = [result for result in results if result.state == COMPLETE]
        best = max(complete, key=lambda result: result.value) if complete else None
        yield SweepDone(self.sweep_id, self.storage, best, len(complete),
                        sum(result.state == PRUNED for result in results), sum(result.state == FAIL for result in results),
                        time.monotonic() - started, tuple(notes))

    def _record(self, result: TrialResult, results: list[TrialResult], notes: list[str]) -> TrialResult:
        """Keep `result`; after `FAILURES_IN_A_ROW` failures in a row, stop the sweep and say why."""
        results.append(result)
        last = results[-FAILURES_IN_A_ROW:]
        if not self._stopping.is_set() and len(last) == FAILURES_IN_A_ROW and all(r.state == FAIL for r in last):
            notes.append(f"The sweep stopped after {FAILURES_IN_A_ROW} trials in a row failed; the last said: {result.reason}")
            self.stop()
        return result

    # --- one trial ------------------------------------------------------------------------------

    def _start_trial(self, study: optuna.Study, distributions, messages: queue.Queue) -> TrialResult | None:
        """Ask Optuna for a trial and start its training; a `FAIL` result if it could not start."""
        trial = study.ask(fixed_distributions=distributions)
        params = dict(trial.params)
        run_name = trial_run_name(self.sweep_id, trial.number)
        try:
            config = self.base.replace(**params)
        except ConfigError as error:  # a combination the training refuses, e.g. batch_size > train_size
            return self._fail(study, trial, params, "", f"its knobs are refused: {error}", 0.0)
        trial.set_user_attr("run_name", run_name)
        try:
            handle = self.executor.start(JobRequest(config, run_name, str(self.runs_dir), self.mnist_path))
        except (JobError, OSError, ValueError, RuntimeError) as error:
            self._stopping.set()  # the executor is gone: the next trials would fail the same way
            return self._fail(study, trial, params, run_name, f"it could not start: {error}", 0.0)
        live = _LiveTrial(trial, handle, run_name, params)
        with self._lock:
            self._live[trial.number] = live
        if self._stopping.is_set():
            handle.send(Command(STOP))
        threading.Thread(target=_read_events, args=(trial.number, handle, messages),
                         name=f"sweep-trial-{trial.number}", daemon=True).start()
        return None

    def _on_message(self, study: optuna.Study, live: _LiveTrial, item) -> TrialResult | None:
        """Feed one event of a running trial to Optuna; the trial's result once it has ended."""
        if isinstance(item, EpochEnd):
            live.epochs += 1
            value = item.val_accuracy
            if value is None or live.pruned_at is not None or not math.isfinite(value):
                return None
            live.best = value if live.best is None else max(live.best, value)
            live.trial.report(value, step=item.epoch)
            if self.pruning and live.trial.should_prune():
                live.pruned_at = item.epoch
                live.handle.send(Command(STOP))
            return None
        seconds = time.monotonic() - live.started
        if isinstance(item, BaseException):  # JobError, WorkerLost: the run folder says failed / interrupted
            return self._fail(study, live.trial, live.params, live.run_name, str(item), seconds, live)
        done: RunDone = item
        if live.pruned_at is not None:
            reason = (f"pruned after epoch {live.pruned_at}: its {OBJECTIVE} fell below the median of the "
                      "earlier trials at that epoch")
            return self._tell(study, live, PRUNED, reason, seconds)
        if done.status == STOPPED and self._stopping.is_set():
            return self._fail(study, live.trial, live.params, live.run_name, "the sweep was stopped", seconds, live)
        if done.status == FAILED or live.best is None:
            return self._fail(study, live.trial, live.params, live.run_name,
                              done.reason if done.status == FAILED else f"no epoch reported a {OBJECTIVE}", seconds, live)
        return self._tell(study, live, COMPLETE, done.reason, seconds)

    def _tell(self, study: optuna.Study, live: _LiveTrial, state: str, reason: str, seconds: float) -> TrialResult:
        live.trial.set_user_attr("reason", reason)
        if state == COMPLETE:
            study.tell(live.trial, live.best)
        else:
            study.tell(live.trial, state=optuna.trial.TrialState.PRUNED)
        return TrialResult(live.trial.number, live.params, live.best, state, live.run_name, live.epochs, reason, seconds)

    def _fail(self, study, trial, params, run_name, reason, seconds, live: _LiveTrial | None = None) -> TrialResult:
        trial.set_user_attr("reason", reason)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return TrialResult(trial.number, params, None if live is None else live.best, FAIL, run_name,
                           0 if live is None else live.epochs, reason, seconds)

    def _abandon(self, study: optuna.Study) -> None:
        """The sweep's iteration ended early (an error, or its consumer left): stop and fail what still runs."""
        with self._lock:
            left = list(self._live.values())
            self._live.clear()
        for live in left:
            live.handle.send(Command(STOP))
            try:
                live.trial.set_user_attr("reason", "the sweep ended before this trial did")
                study.tell(live.trial, state=optuna.trial.TrialState.FAIL)
            except Exception:  # the storage itself may be what failed
                pass


def _read_events(number: int, handle: JobHandle, messages: queue.Queue) -> None:
    """Hand a trial's epochs and its end to the sweep's thread (batch points and other events are dropped)."""
    try:
        for event in handle.events():
            if isinstance(event, (EpochEnd, RunDone)):
                messages.put((number, event))
            if isinstance(event, RunDone):
                return
        messages.put((number, JobError("The job's events ended without a result.")))
    except Exception as error:
        messages.put((number, error))


def run_sweep(executor: Executor, model: str, search_space, trials: int, overrides: dict[str, Any] | None = None,
              runs_dir=None, seed: int = 0, pruning: bool = True, **options) -> Iterator[TrialResult | SweepDone]:
    """`iter(Sweep(...))`: one `TrialResult` per finished trial, then a `SweepDone` (see `Sweep`)."""
    return iter(Sweep(executor, model, search_space, trials, overrides, runs_dir, seed, pruning, **options))
