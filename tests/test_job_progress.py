"""Progress lines and ETAs of a job, from the events a training streams."""

import pytest

from core.training.events import COMPLETED, QUEUED, RUNNING, EpochEnd, Progress
from core.jobs.job_progress import about, describe_progress, format_seconds
from core.config.train_form import build_config, default_values
from core.jobs.training_jobs import JobState

CONFIG = build_config(default_values("mlp") | {"epochs": 4})


def epoch(number, seconds):
    return EpochEnd(number, 0.5, 0.8, 0.6, 0.78, 0.1, seconds, 1000.0)


@pytest.mark.parametrize("seconds, text", [(0, "under 1 s"), (0.4, "under 1 s"), (0.6, "1 s"), (42.4, "42 s"), (185, "3 min 5 s"), (4320, "1 h 12 min")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_a_queued_job_shows_its_place_in_the_queue():
    report = describe_progress(JobState("j", CONFIG, status=QUEUED, queue_position=2))
    assert report.fraction == 0.0 and "position 2" in report.text


def test_before_the_first_progress_event_the_job_is_starting():
    report = describe_progress(JobState("j", CONFIG, status=RUNNING), epoch_seconds=10.0)
    assert report.fraction == 0.0 and "starting" in report.text


def test_mid_epoch_eta_extrapolates_the_epochs_own_pace():
    # One epoch of 10 s done (the first, so it is the only timing); epoch 2 went from 5% at 0.5 s to 25% at 3 s.
    progress = Progress(2, 0.25, 0.4, 0.85, 3.0)
    state = JobState("j", CONFIG, status=RUNNING, epochs=(epoch(1, 10.0),), progress=progress,
                     points=(Progress(2, 0.05, 0.5, 0.8, 0.5), progress))
    report = describe_progress(state, epoch_seconds=99.0)  # the estimate yields to measured epochs
    assert report.fraction == pytest.approx((1 + 0.25) / 4)
    # 2.5 s for 20% → 12.5 s an epoch, 9.4 s left in this one; then two more epochs of 10 s.
    assert report.text == "Epoch 2 of 4: 25%, about 9 s left in this epoch, 29 s in all"


# The first points of a real run: `python -m core train --model fast --epochs 2 --json` on the project's 2-core
# Xeon (load 8): the first point came after the epoch's first 8 batches, 4.42 s in (tracing the graph); the
# epoch ended at 13.58 s and the second took 7.83 s, so 16.3 s were left at the third point (5.07 s).
FAST = build_config(default_values("fast") | {"epochs": 2})
REAL_POINTS = (Progress(1, 0.017057569296375266, 1.81, 0.40, 4.415740436999954),
               Progress(1, 0.06823027718550106, 0.52, 0.86, 4.750510320999979),
               Progress(1, 0.11940298507462686, 0.21, 0.94, 5.071215812999981))
REAL_LEFT_AT_THIRD_POINT = (13.583577648999949 - 5.071215812999981) + 7.82651970400002


def test_the_first_estimate_does_not_count_the_start_up_as_pace():
    # Only the first point: its 4.42 s are start-up, not pace; the estimate made before the start stands.
    state = JobState("j", FAST, status=RUNNING, progress=REAL_POINTS[0], points=REAL_POINTS[:1])
    report = describe_progress(state, epoch_seconds=4.4)
    assert report.text == "Epoch 1 of 2: 2%, about 4 s left in this epoch, 9 s in all"  # was "about 4 min 14 s left"


def test_early_estimates_run_at_the_pace_since_the_first_point():
    state = JobState("j", FAST, status=RUNNING, progress=REAL_POINTS[2], points=REAL_POINTS)
    report = describe_progress(state, epoch_seconds=60.0)  # a far-off estimate yields to the measured pace
    # (5.07 - 4.42) s for (11.9 - 1.7)% of the epoch: 6.4 s an epoch, 5.6 s left in this one, 12 s in all.
    assert report.text == "Epoch 1 of 2: 12%, about 6 s left in this epoch, 12 s in all"
    assert REAL_LEFT_AT_THIRD_POINT / 2 < 12.05 < REAL_LEFT_AT_THIRD_POINT * 2  # within a factor of two of what came


def test_an_epoch_nearly_done_says_under_1_s_not_about_under_1_s():
    state = JobState("j", CONFIG, status=RUNNING, epochs=(epoch(1, 0.4),), progress=Progress(2, 0.9, 0.4, 0.85, 0.36))
    report = describe_progress(state)
    assert ", under 1 s left in this epoch," in report.text and "about under" not in report.text
    assert about(0.2, capital=True) == "Under 1 s" and about(42, capital=True) == "About 42 s"  # the form's estimate


def test_later_epochs_time_the_pace_without_the_first_one():
    state = JobState("j", CONFIG, status=RUNNING, epochs=(epoch(1, 30.0), epoch(2, 10.0), epoch(3, 12.0)))
    report = describe_progress(state)
    assert report.text == "Epoch 4 of 4: 0%, about 11 s left in this epoch, 11 s in all"


def test_after_the_last_epoch_the_job_is_scoring_and_saving():
    state = JobState("j", CONFIG, status=RUNNING, epochs=tuple(epoch(i, 5.0) for i in range(1, 5)))
    report = describe_progress(state)
    assert report.fraction == 1.0 and "saving" in report.text


def test_a_finished_job_reports_its_reason():
    state = JobState("j", CONFIG, status=COMPLETED, reason="all 4 epochs ran", epochs=(epoch(1, 5.0),))
    assert describe_progress(state).text == "all 4 epochs ran"


def test_a_paused_job_says_so_where_it_holds():
    state = JobState("j", CONFIG, status=RUNNING, epochs=(epoch(1, 10.0),), paused=True,
                     progress=Progress(2, 0.25, 0.4, 0.85, 3.0))
    report = describe_progress(state)
    assert report.fraction == pytest.approx((1 + 0.25) / 4)
    assert report.text.startswith("Paused in epoch 2 of 4 at 25%") and "left" not in report.text
