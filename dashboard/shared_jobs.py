"""The one job queue every session of this server shares, with its executor warmed up at start.

Made on the server's first page view (the entry script asks for it); moments later, once that
view has painted, the local executor's worker processes import TensorFlow and load MNIST, before
anyone presses Start (or a Ray executor connects to its cluster). The server's own
process never trains and never imports TensorFlow for a training. On a shared server the queue
also learns which visitors still have a page connected (`dashboard/live_sessions.py`), so a
waiting job whose visitor closed their last tab leaves the queue within a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from core.classroom.class_ledger import ClassLedger
from core.config.train_config import TrainConfig
from core.jobs.queue_estimate import estimated_starts, queue_shape
from core.jobs.shared_snapshot import SharedSnapshot
from core.jobs.training_jobs import TrainingJobs
from core.runs.store import resolve_runs_dir
from dashboard.live_sessions import live_sessions, note_this_session
from dashboard.visitor import sharing_rules, visitor_id


def _list_in_class(owner: str, run_name: str, submitted: float) -> None:
    """A visitor's training got its run folder: the open class session lists it (`core/classroom/class_ledger.py`)."""
    ClassLedger(resolve_runs_dir()).record_run(run_name, owner, submitted)


@st.cache_resource(show_spinner=False)
def shared_jobs() -> TrainingJobs:
    """One queue for every session, so the cap on concurrent trainings holds server-wide."""
    rules = sharing_rules()  # the entry script checked the settings first
    jobs = TrainingJobs(rules=rules, live_visitors=live_sessions().connected_visitors if rules.hosted else None,
                        on_run_started=_list_in_class)
    jobs.warm_up_soon()  # never in the way of this first page view's paint
    return jobs


QUEUE_ESTIMATE_MAX_AGE_SECONDS = 1.0  # the queue's waiting times are played forward at most once a second


@st.cache_resource(show_spinner=False)
def _queue_starts() -> SharedSnapshot[tuple[float, dict[str, float]]]:
    return SharedSnapshot(max_age_seconds=QUEUE_ESTIMATE_MAX_AGE_SECONDS)


def queue_starts(epoch_seconds: Callable[[TrainConfig], float]) -> dict[str, float]:
    """Seconds until each queued job of the server is expected to start (`core.jobs.queue_estimate`),
    played forward once for every page that shows a place in the queue: again when a job joins, moves
    up, starts, finishes an epoch or ends, and at least once a second.

    Args:
        epoch_seconds: a config's expected seconds per epoch.
    """
    jobs = shared_jobs()
    active = jobs.active_states()

    def make() -> tuple[float, dict[str, float]]:
        now = time.time()
        return now, estimated_starts(active, jobs.max_concurrent, epoch_seconds, now=now,
                                     max_job_seconds=jobs.rules.max_job_seconds)

    made_at, starts = _queue_starts().get(queue_shape(active), make)
    waited = time.time() - made_at
    return {job_id: max(0.0, seconds - waited) for job_id, seconds in starts.items()}


def visitor_is_here() -> None:
    """This page view (or an open page's heartbeat) says its visitor is here: their jobs keep their place."""
    visitor = visitor_id()
    note_this_session(visitor)
    shared_jobs().seen(visitor)
