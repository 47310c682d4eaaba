"""Each training of the class session as the board shows it: queued and running ones from the
server's queue (in memory, live), finished ones from their run folders (read once, then cached
until their `status.json` changes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from core.classroom.class_ledger import ClassState
from core.jobs.training_jobs import JobState
from core.runs.store import BATCHES_FILE, METRICS_FILE, STATUS_FILE, RunError, read_points, read_run, run_path
from core.training.events import ENDINGS, QUEUED

SPARKLINE_POINTS = 48  # a card's sparkline keeps at most this many points (the curve's shape, not its noise)
CACHED_RUNS = 400  # finished runs kept read in memory


@dataclass(frozen=True)
class ClassRun:
    """One training of the class session.

    Args:
        key: a stable id on the board (the run's name, or `queued-<n>` before it has one).
        run_name: its run folder, None while queued.
        visitor: who started it.
        config: its settings (`TrainConfig` fields).
        status: `queued`, `running` or one of the endings.
        test_accuracy: on the 10,000 test images, once scored.
        seconds: training seconds so far (its epochs, summed).
        submitted: when its Start was pressed (`time.time()`).
        ended: when it ended, None before.
        losses, accuracies: the sparkline's points, at most `SPARKLINE_POINTS`.
        epochs_done: finished epochs.
    """

    key: str
    run_name: str | None
    visitor: str
    config: dict
    status: str
    test_accuracy: float | None
    seconds: float
    submitted: float
    ended: float | None
    losses: tuple[float, ...] = ()
    accuracies: tuple[float, ...] = ()
    epochs_done: int = 0

    @property
    def finished(self) -> bool:
        return self.status in ENDINGS


def thin(values: list[float], most: int = SPARKLINE_POINTS) -> tuple[float, ...]:
    """At most `most` of `values`, evenly spread, the first and last kept."""
    if len(values) <= most:
        return tuple(values)
    step = (len(values) - 1) / (most - 1)
    return tuple(values[round(i * step)] for i in range(most))


def _curve(points: list[dict], epochs: list[dict]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    source = points if len(points) >= 2 else epochs
    pairs = [(p.get("loss"), p.get("accuracy")) for p in source]
    pairs = [(float(l), float(a)) for l, a in pairs if isinstance(l, (int, float)) and isinstance(a, (int, float))]
    return thin([l for l, _ in pairs]), thin([a for _, a in pairs])


_cache: OrderedDict[tuple, ClassRun] = OrderedDict()
_cache_lock = threading.Lock()


def _stamp(path: Path) -> tuple:
    stamps = []
    for name in (STATUS_FILE, METRICS_FILE, BATCHES_FILE):
        try:
            info = (path / name).stat()
            stamps.append((info.st_mtime_ns, info.st_size))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


def run_from_folder(run_name: str, visitor: str, submitted: float, runs_dir) -> ClassRun | None:
    """The class run recorded in folder `run_name`, or None when the folder is gone."""
    try:
        path = run_path(runs_dir, run_name)
    except RunError:
        return None
    if not path.is_dir():
        return None
    key = (str(path), visitor, submitted, _stamp(path))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    summary = read_run(path)
    losses, accuracies = _curve(read_points(path / BATCHES_FILE), summary.epochs)
    run = ClassRun(run_name, run_name, visitor, dict(summary.config), summary.status, summary.test_accuracy,
                   summary.seconds, submitted, summary.ended, losses, accuracies, len(summary.epochs))
    if run.finished:  # a finished run's files no longer change: read once
        with _cache_lock:
            _cache[key] = run
            while len(_cache) > CACHED_RUNS:
                _cache.popitem(last=False)
    return run


def run_from_job(job: JobState, key: str) -> ClassRun:
    """The class run a job of the server's queue is, live."""
    points = [{"loss": p.loss, "accuracy": p.accuracy} for p in job.points]
    epochs = [{"loss": e.loss, "accuracy": e.accuracy} for e in job.epochs]
    losses, accuracies = _curve(points, epochs)
    return ClassRun(job.run_name or key, job.run_name, job.owner or "", job.config.to_dict(), job.status,
                    job.test_accuracy, float(sum(e.seconds for e in job.epochs)), job.submitted, job.ended,
                    losses, accuracies, len(job.epochs))


def class_runs(state: ClassState, runs_dir, jobs: list[JobState] = ()) -> list[ClassRun]:
    """Every training of the session, hidden runs left out: the session's runs in the order they
    started, then the queued ones in the queue's order.

    Args:
        state: the class (`ClassLedger.state()`).
        runs_dir: the runs directory.
        jobs: the server queue's unfinished jobs (`TrainingJobs.active_states()`): those its
            visitors started during the session are shown live, queued ones included.
    """
    if state.session_id is None:
        return []
    live = {job.run_name: job for job in jobs if job.run_name and job.owner}
    runs = []
    for record in state.runs:
        if record.run_name in state.hidden_runs:
            continue
        job = live.get(record.run_name)
        run = run_from_job(job, record.run_name) if job is not None else \
            run_from_folder(record.run_name, record.visitor, record.submitted, runs_dir)
        if run is not None:
            runs.append(run)
    listed = {record.run_name for record in state.runs}
    waiting = sorted((job for job in jobs if job.owner and state.counts(job.submitted)
                      and (job.run_name is None or job.run_name not in listed)),
                     key=lambda job: (job.status == QUEUED, job.queue_position or 0, job.submitted))
    runs += [run_from_job(job, f"queued-{index}") for index, job in enumerate(waiting, start=1)
             if job.run_name not in state.hidden_runs]
    return runs
