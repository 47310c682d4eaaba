"""The report processes this server runs: one run's calibration and robustness sweep at a time, for every session.

Kept in `st.cache_resource`, so two visitors opening the same run's report share one process,
and a second run's report waits until the first is done (two sweeps at once would only halve
each other's speed on a 2-core machine, and slow the trainings beside them).
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass, field

import streamlit as st

from core.robustness.report_process import start_report_process


@dataclass
class ReportJobs:
    """The report process now running (at most one) and which run it is for."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    process: subprocess.Popen | None = None
    key: tuple[str, str] | None = None  # (runs_dir, run name)

    def busy_with(self) -> str | None:
        """The run whose report is being computed, or None."""
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                return self.key[1]
            self.process, self.key = None, None  # ended (poll() reaped it), or never started
            return None

    def start(self, runs_dir, name: str) -> bool:
        """Start the report of `name` unless a report is being computed; True if it runs now (started or already)."""
        key = (str(runs_dir), name)
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                return self.key == key
            self.process, self.key = start_report_process(name, runs_dir), key
            return True


@st.cache_resource
def report_jobs() -> ReportJobs:
    return ReportJobs()
