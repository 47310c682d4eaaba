"""The class's runs ranked under its challenge.

A run is ranked when it finished with a test accuracy, was started at or after the challenge was
set, and keeps to the challenge's constraint (`core.classroom.challenge.why_not_counted`). The
accuracy challenges rank by test accuracy, highest first; the time challenge by training
seconds, fewest first. Equal scores are broken by time: the run that finished first ranks first
(then the one started first). Every run gets a row; those not ranked say why.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.classroom.challenge import Challenge, why_not_counted
from core.classroom.class_runs import ClassRun


@dataclass(frozen=True)
class Standing:
    """One run's place: `rank` (1 = first) or None, with `why_not` saying why it is not ranked."""

    run: ClassRun
    rank: int | None
    why_not: str | None = None


def standings(runs: list[ClassRun], challenge: Challenge | None) -> list[Standing]:
    """Every run with its rank under `challenge`: the ranked ones first, in rank order, then the others
    in the order given.

    Args:
        runs: the session's runs (`core.classroom.class_runs.class_runs`).
        challenge: the challenge, None when none is set (then nothing is ranked).
    """
    if challenge is None:
        return [Standing(run, None, "no challenge is set") for run in runs]
    ranked, others = [], []
    for run in runs:
        if not run.finished:
            others.append(Standing(run, None, "still training" if run.run_name else "waiting in the queue"))
            continue
        why = why_not_counted(challenge, run.config, run.test_accuracy, run.submitted)
        if why is None:
            ranked.append(run)
        else:
            others.append(Standing(run, None, why))
    if challenge.lower_is_better:
        score = lambda run: run.seconds  # noqa: E731
    else:
        score = lambda run: -run.test_accuracy  # noqa: E731
    ranked.sort(key=lambda run: (score(run), run.ended if run.ended is not None else float("inf"), run.submitted))
    return [Standing(run, place) for place, run in enumerate(ranked, start=1)] + others


def visitor_rank(table: list[Standing], visitor: str) -> tuple[int | None, int]:
    """`(the best rank of `visitor`'s runs or None, how many runs are ranked)`."""
    ranks = [s.rank for s in table if s.rank is not None and s.run.visitor == visitor]
    return (min(ranks) if ranks else None), sum(s.rank is not None for s in table)
