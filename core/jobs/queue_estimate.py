"""When each waiting job will start: the queue played forward, slot by slot, from the jobs ahead.

A running job frees its slot after its estimated duration minus the time it has run; a queued job
takes the first slot to come free, in queue order, and holds it for its own estimated duration.
The estimates come from `core.training.epoch_estimate` plus a fixed start-up and scoring cost; on
a server with a time cap no job is expected to hold its slot past the cap (and its scoring). A
later place in the queue never shows an earlier start than the one ahead of it.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence

from core.config.train_config import TrainConfig
from core.jobs.training_jobs import JobState
from core.training.events import QUEUED, RUNNING

JOB_OVERHEAD_SECONDS = 4.0  # a warm worker's start, the first epoch's tracing, test scoring and saving
MIN_REMAINING_SECONDS = 2.0  # a running job past its estimate is "about to end", never "ended"


def job_seconds(config: TrainConfig, epoch_seconds: float, max_job_seconds: float | None = None) -> float:
    """A whole job's expected duration: every epoch plus the fixed cost around them, and no longer than
    a server's time cap `max_job_seconds` (None: no cap) plus that cost (a capped job still scores and saves)."""
    seconds = config.epochs * epoch_seconds + JOB_OVERHEAD_SECONDS
    return seconds if max_job_seconds is None else min(seconds, max_job_seconds + JOB_OVERHEAD_SECONDS)


def remaining_seconds(state: JobState, epoch_seconds: float, now: float, max_job_seconds: float | None = None) -> float:
    """How long a running job still needs: from its own finished epochs once it has some, and never
    past the server's time cap `max_job_seconds` (None: no cap), counted from its start."""
    elapsed = now - (state.started or now)
    if state.epochs:
        epochs_left = state.config.epochs - len(state.epochs)
        timed = state.epochs[1:] or state.epochs  # the first epoch also traced the graph
        epoch_seconds = sum(e.seconds for e in timed) / len(timed)
        in_epoch = state.progress.fraction if state.progress is not None else 0.0
        left = (epochs_left - in_epoch) * epoch_seconds + 1.0
    else:
        left = job_seconds(state.config, epoch_seconds) - elapsed
    if max_job_seconds is not None:
        left = min(left, max_job_seconds + JOB_OVERHEAD_SECONDS - elapsed)
    return max(MIN_REMAINING_SECONDS, left)


def queue_shape(states: Sequence[JobState]) -> tuple:
    """What `estimated_starts` depends on besides the clock and a running epoch's progress: each job's id,
    status, place and finished epochs. Equal shapes a second apart give nearly equal estimates."""
    return tuple((s.job_id, s.status, s.queue_position, len(s.epochs), s.started) for s in states)


def estimated_starts(states: Sequence[JobState], slots: int, epoch_seconds: Callable[[TrainConfig], float],
                     now: float | None = None, max_job_seconds: float | None = None) -> dict[str, float]:
    """Seconds from `now` until each queued job is expected to start.

    Args:
        states: the running and queued jobs (others are ignored).
        slots: how many jobs run at once.
        epoch_seconds: a config's expected seconds per epoch.
        now: the clock (`time.time()` if None).
        max_job_seconds: the server's time cap on a training (`SharingRules.max_job_seconds`); None = none.

    Returns:
        `{job_id: seconds}` for every queued job, never less for a later place in the queue than for
        an earlier one; 0 means "as soon as a worker takes it".
    """
    now = time.time() if now is None else now
    running = [s for s in states if s.status == RUNNING]
    queued = sorted((s for s in states if s.status == QUEUED), key=lambda s: (s.queue_position or 0, s.submitted))
    free_at = [remaining_seconds(s, epoch_seconds(s.config), now, max_job_seconds) for s in running]
    free_at += [0.0] * max(0, slots - len(free_at))
    heapq.heapify(free_at)
    starts, earliest = {}, 0.0
    for state in queued:  # first in, first started: nobody overtakes the job ahead
        start = earliest = max(earliest, heapq.heappop(free_at))
        starts[state.job_id] = start
        heapq.heappush(free_at, start + job_seconds(state.config, epoch_seconds(state.config), max_job_seconds))
    return starts
