"""When each waiting job will start: the queue played forward, slot by slot, from the jobs ahead.

A running job frees its slot after its estimated duration minus the time it has run; a queued job
takes the first slot to come free, in queue order, and holds it for its own estimated duration.
The estimates come from `core.training.epoch_estimate` plus a fixed start-up and scoring cost.
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


def job_seconds(config: TrainConfig, epoch_seconds: float) -> float:
    """A whole job's expected duration: every epoch plus the fixed cost around them."""
    return config.epochs * epoch_seconds + JOB_OVERHEAD_SECONDS


def remaining_seconds(state: JobState, epoch_seconds: float, now: float) -> float:
    """How long a running job still needs: from its own finished epochs once it has some."""
    epochs_left = state.config.epochs - len(state.epochs)
    if state.epochs:
        timed = state.epochs[1:] or state.epochs  # the first epoch also traced the graph
        epoch_seconds = sum(e.seconds for e in timed) / len(timed)
        in_epoch = state.progress.fraction if state.progress is not None else 0.0
        return max(MIN_REMAINING_SECONDS, (epochs_left - in_epoch) * epoch_seconds + 1.0)
    elapsed = now - (state.started or now)
    return max(MIN_REMAINING_SECONDS, job_seconds(state.config, epoch_seconds) - elapsed)


def estimated_starts(states: Sequence[JobState], slots: int, epoch_seconds: Callable[[TrainConfig], float],
                     now: float | None = None) -> dict[str, float]:
    """Seconds from `now` until each queued job is expected to start.

    Args:
        states: the running and queued jobs (others are ignored).
        slots: how many jobs run at once.
        epoch_seconds: a config's expected seconds per epoch.
        now: the clock (`time.time()` if None).

    Returns:
        `{job_id: seconds}` for every queued job; 0 means "as soon as a worker takes it".
    """
    now = time.time() if now is None else now
    running = [s for s in states if s.status == RUNNING]
    queued = sorted((s for s in states if s.status == QUEUED), key=lambda s: (s.queue_position or 0, s.submitted))
    free_at = [remaining_seconds(s, epoch_seconds(s.config), now) for s in running]
    free_at += [0.0] * max(0, slots - len(free_at))
    heapq.heapify(free_at)
    starts = {}
    for state in queued:
        start = heapq.heappop(free_at)
        starts[state.job_id] = start
        heapq.heappush(free_at, start + job_seconds(state.config, epoch_seconds(state.config)))
    return starts
