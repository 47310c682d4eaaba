"""The one job queue every session of this server shares, with its executor warmed up at start.

Made on the server's first page view (the entry script asks for it); moments later, once that
view has painted, the local executor's worker processes import TensorFlow and load MNIST, before
anyone presses Start (or a Ray executor connects to its cluster). The server's own
process never trains and never imports TensorFlow for a training.
"""

from __future__ import annotations

import streamlit as st

from core.jobs.training_jobs import TrainingJobs
from dashboard.visitor import sharing_rules


@st.cache_resource(show_spinner=False)
def shared_jobs() -> TrainingJobs:
    """One queue for every session, so the cap on concurrent trainings holds server-wide."""
    jobs = TrainingJobs(rules=sharing_rules())  # the entry script checked the settings first
    jobs.warm_up_soon()  # never in the way of this first page view's paint
    return jobs
