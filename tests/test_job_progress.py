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
    # One epoch of 10 s done (the first, so it is the only timing); epoch 2 is 25% in after 3 s.
    state = JobState("j", CONFIG, status=RUNNING, epochs=(epoch(1, 10.0),),
                     progress=Progress(2, 0.25, 0.4, 0.85, 3.0))
    report = describe_progress(state, epoch_seconds=99.0)  # the estimate yields to measured epochs
    assert report.fraction == pytest.approx((1 + 0.25) / 4)
    # 3 s for 25% → 9 s left in this epoch; then two more epochs of 10 s.
    assert report.text == "Epoch 2 of 4: 25%, about 9 s left in this epoch, 29 s in all"


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
