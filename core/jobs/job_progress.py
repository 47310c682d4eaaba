"""A running job's progress in words and fractions: where it is, and how long until it is done."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.training.events import QUEUED, RUNNING
from core.jobs.training_jobs import JobState


@dataclass(frozen=True)
class ProgressReport:
    """What the Train page's progress bar shows."""

    fraction: float  # of the whole run, in [0, 1]
    text: str


def about(seconds: float, capital: bool = False) -> str:
    """`"about 42 s"`, but plain `"under 1 s"`: no "about under 1 s". `capital`: to start a sentence."""
    text = format_seconds(seconds)
    text = text if text.startswith("under") else f"about {text}"
    return text[0].upper() + text[1:] if capital else text


def format_seconds(seconds: float) -> str:
    """`"under 1 s"`, `"42 s"`, `"3 min 5 s"` or `"1 h 12 min"`."""
    if seconds < 0.5:
        return "under 1 s"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def epoch_pace(points, progress) -> float | None:
    """Seconds the whole epoch of `progress` takes to train at its pace so far; None before two points of it.

    The pace runs from the epoch's earliest point kept in `points` to `progress`: the first point
    comes after the epoch's first batch, whose time holds the start-up (the first epoch's graph
    tracing, ~1 s, or a cold worker's more): dividing its seconds by its tiny fraction made the
    first estimate several times the run (about 1 min 14 s left for an 11.6-s run).
    """
    first = next((point for point in points if point.epoch == progress.epoch), None)
    if first is None or progress.fraction - first.fraction <= 0:
        return None
    return (progress.seconds - first.seconds) / (progress.fraction - first.fraction)


def describe_pause(deadline: float | None, max_pause_minutes: float, now: float | None = None) -> str:
    """What a paused job's visitor reads under its progress bar on a shared server.

    Args:
        deadline: when (`time.time()`) the pause ends unless resumed (`TrainingJobs.pause_deadline`);
            None while nobody waits for a worker.
        max_pause_minutes: the server's limit on a pause while others wait.
        now: the clock (`time.time()` if None).
    """
    if deadline is None:
        return (f"Paused, holding a worker: if others queue for one, it stops {max_pause_minutes:g} minutes later "
                "unless resumed (its finished epochs are kept).")
    left = max(0.0, deadline - (time.time() if now is None else now))
    return (f"Paused while others are waiting: it stops in {format_seconds(left)} unless resumed "
            "(its finished epochs are kept).")


def describe_progress(state: JobState, epoch_seconds: float | None = None, starts_in: float | None = None,
                      now: float | None = None) -> ProgressReport:
    """Progress of a queued or running job, with an ETA for the epoch and for the whole run.

    Args:
        state: the job's latest snapshot.
        epoch_seconds: the expected seconds per epoch (from `core.training.epoch_estimate`), used
            until the job has finished an epoch of its own to time.
        starts_in: for a queued job, the seconds until it is expected to start
            (`core.jobs.queue_estimate.estimated_starts`).
        now: the clock for the start time shown (`time.time()` if None).

    Returns:
        The fraction of all epochs done (epochs finished plus the current epoch's share)
        and a line such as `"Epoch 3 of 30: 45%, about 12 s left in this epoch, 5 min 2 s in all"`
        (`"Paused in epoch 3 of 30 at 45%: ..."` while paused).
        The run may end sooner (early stopping, target accuracy).
    """
    total = state.config.epochs
    before = state.first_epoch - 1  # a fork's or a resume's epochs are numbered on from its checkpoint
    last = before + total
    if state.status == QUEUED:
        position = state.queue_position or 1
        text = f"Waiting in the queue: position {position}"
        if starts_in is None:
            return ProgressReport(0.0, text + ".")
        if starts_in < 1:
            return ProgressReport(0.0, text + ": starts as soon as a worker takes it.")
        at = time.strftime("%H:%M", time.localtime((time.time() if now is None else now) + starts_in))
        return ProgressReport(0.0, text + f": starts in {about(starts_in)} (around {at}), after the trainings ahead.")
    if state.status != RUNNING:
        return ProgressReport(1.0 if state.epochs else 0.0, state.reason or state.status)
    done = len(state.epochs)
    if not done and state.progress is None:
        return ProgressReport(0.0, f"Epoch {before + 1} of {last}: starting (building the model)")
    if done >= total:
        return ProgressReport(1.0, f"All {total} epochs done: scoring the test set and saving the model")
    if state.epochs:
        timed = state.epochs[1:] or state.epochs  # the first epoch also traced the graph
        epoch_seconds = sum(e.seconds for e in timed) / len(timed)
    progress = state.progress
    per_epoch = epoch_seconds
    if progress is not None and progress.epoch == before + done + 1 and progress.fraction > 0:
        in_epoch = progress.fraction
        this_epoch = epoch_pace(state.points, progress)  # its training part; validation follows
        if this_epoch is not None and not state.epochs:
            per_epoch = this_epoch  # this machine's pace now, over the estimate made before the start
        per_epoch_left = this_epoch if this_epoch is not None else per_epoch
        epoch_left = None if per_epoch_left is None else per_epoch_left * (1.0 - progress.fraction)
    else:
        in_epoch, epoch_left = 0.0, epoch_seconds
    fraction = min(1.0, (done + in_epoch) / total)
    if state.paused:
        return ProgressReport(fraction, f"Paused in epoch {before + done + 1} of {last} at {in_epoch:.0%}: "
                                        "Resume goes on, Step trains one batch (or one group of batches)")
    text = f"Epoch {before + done + 1} of {last}: {in_epoch:.0%}"
    if epoch_left is None or per_epoch is None:
        return ProgressReport(fraction, text)
    total_left = epoch_left + (total - done - 1) * per_epoch
    text += f", {about(epoch_left)} left in this epoch, {format_seconds(total_left)} in all"
    return ProgressReport(fraction, text)
