"""The board every page of a server shows, made once for all of them.

Forty open Board pages each redrew the class every two seconds: each read `class.json`, each
played the session's runs through the queue and the run folders, each built the same cards. A
`SharedClassView` makes the board once (`core.jobs.shared_snapshot`): again at once when
`class.json` changed (a teacher's action, a name, a run joining), when the queue changed (a
training's next point: at most once a second), and every 10 s for run folders written from outside
this server's queue (the CLI, another server).

How often a page redraws the board follows it too (`ClassView.refresh_seconds`): every 2 s while a
card is queued or running (its sparkline and state move), every 10 s while none is. A redraw is a
fragment's rerun, and each costs the visitor's browser ~40 ms of CPU whether anything changed or not
(`bench/idle_page_cost.py`): forty idle Board tabs at 2 s kept most of a core busy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.classroom.board_html import board_html, leaderboard_html
from core.classroom.class_ledger import ClassLedger, ClassState
from core.classroom.class_runs import class_runs
from core.classroom.leaderboard import Standing, standings
from core.jobs.shared_snapshot import SharedSnapshot
from core.jobs.training_jobs import TrainingJobs

MIN_AGE_SECONDS = 1.0  # a live training changes the queue many times a second; the board redraws every 2 s
MAX_AGE_SECONDS = 10.0  # run folders changed from outside this server's queue show within this
LIVE_REFRESH_SECONDS = 2.0  # a page redraws the board this often while a card is queued or running
IDLE_REFRESH_SECONDS = 10.0  # and this often while none is (a new Start, a teacher's change elsewhere show within it)


@dataclass(frozen=True)
class ClassView:
    """The board as every visitor sees it: the class, its runs ranked under the challenge, the cards' HTML
    (empty when there is no run) and the leaderboard's."""

    state: ClassState
    table: list[Standing]
    cards_html: str
    leaderboard_html: str

    @property
    def live(self) -> bool:
        """Whether a card of the board is queued or running."""
        return any(not standing.run.finished for standing in self.table)

    @property
    def refresh_seconds(self) -> float:
        """How often an open page should redraw this board: `LIVE_REFRESH_SECONDS` while it is `live`, else
        `IDLE_REFRESH_SECONDS`."""
        return LIVE_REFRESH_SECONDS if self.live else IDLE_REFRESH_SECONDS


def make_class_view(ledger: ClassLedger, jobs: TrainingJobs) -> ClassView:
    """The board now: the session's runs (live ones from `jobs`, the server's queue) and their cards."""
    state = ledger.state()
    table = standings(class_runs(state, ledger.runs_dir, jobs.active_states()), state.challenge)
    return ClassView(state, table, board_html(table, state) if table else "", leaderboard_html(table, state))


class SharedClassView:
    """One board for every page of the server.

    Args:
        min_age_seconds: a board this young is shown again even though the queue changed.
        max_age_seconds: a board this old is made again even though nothing seemed to change.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, min_age_seconds: float = MIN_AGE_SECONDS, max_age_seconds: float = MAX_AGE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self._snapshot: SharedSnapshot[ClassView] = SharedSnapshot(min_age_seconds, max_age_seconds, clock)

    @property
    def made_count(self) -> int:
        """How many boards were made (for tests and benchmarks)."""
        return self._snapshot.made_count

    def get(self, ledger: ClassLedger, jobs: TrainingJobs) -> ClassView:
        """The board of `ledger`'s class with `jobs`' live trainings: the last one made, if it still holds."""
        return self._snapshot.get((str(ledger.runs_dir), ledger.stamp()), lambda: make_class_view(ledger, jobs),
                                  live_version=jobs.version)
