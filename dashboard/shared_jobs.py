"""The one job queue every session of this server shares, with its executor warmed up at start.

Made on the server's first page view (the entry script asks for it); moments later, once that
view has painted, the local executor's worker processes import TensorFlow and load MNIST, before
anyone presses Start (or a Ray executor connects to its cluster). The server's own
process never trains and never imports TensorFlow for a training. On a shared server the queue
also learns which visitors still have a page connected (`dashboard/live_sessions.py`), so a
waiting job whose visitor closed their last tab leaves the queue within a minute.
"""

from __future__ import annotations

import streamlit as st

from core.classroom.class_ledger import ClassLedger
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


def visitor_is_here() -> None:
    """This page view (or an open page's heartbeat) says its visitor is here: their jobs keep their place."""
    visitor = visitor_id()
    note_this_session(visitor)
    shared_jobs().seen(visitor)
