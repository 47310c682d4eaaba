"""How often a page redraws a job it follows: often while its next change is due, seldom while it waits.

Every open tab polls its job (a Streamlit fragment with `run_every`), and on a hosted class every
poll is a script run on the server's one interpreter: forty tabs polling four times a second were
160 runs a second for trainings that mostly sat in the queue. So the pace follows what the page
can show: a quarter second while the job is next in line, starting (no point yet) or scoring after
its last epoch (each then shows within a second of happening), a second while it trains (its
curves gain points), two seconds while one other job is ahead of it (its place moves when that
one ends), and five seconds while two or more are (its place moves, but it will not start soon).

Each poll costs the visitor's browser too: a fragment's rerun took ~40 ms of a Chromium renderer's CPU
(`bench/idle_page_cost.py`), so forty tabs of a class waiting in the queue at two seconds kept most of
a core busy on the machine that draws them.
"""

from __future__ import annotations

from core.jobs.training_jobs import JobState
from core.training.events import QUEUED

POLL_SECONDS = 1.0  # a training under way: its curves and progress
QUICK_POLL_SECONDS = 0.25  # its start, its first points or its end are due
QUEUED_POLL_SECONDS = 2.0  # one other job is ahead of it in the queue
FAR_QUEUED_POLL_SECONDS = 5.0  # two or more are ahead of it


def awaiting_change(state: JobState) -> bool:
    """Next in the queue, starting (no point yet) or scoring after its last epoch: the next change comes soon."""
    if state.status == QUEUED:
        return (state.queue_position or 1) <= 1
    return not (state.points or state.epochs) or len(state.epochs) >= state.config.epochs


def poll_seconds(state: JobState) -> float:
    """How often a page should redraw `state`'s unfinished job (`QUICK_POLL_SECONDS`, `POLL_SECONDS`,
    `QUEUED_POLL_SECONDS` or `FAR_QUEUED_POLL_SECONDS`)."""
    if awaiting_change(state):
        return QUICK_POLL_SECONDS
    if state.status == QUEUED:
        return QUEUED_POLL_SECONDS if (state.queue_position or 1) <= 2 else FAR_QUEUED_POLL_SECONDS
    return POLL_SECONDS
