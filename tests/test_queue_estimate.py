"""The queue played forward: each waiting job's start, from the jobs running and waiting ahead of it."""

import pytest

from core.config.train_config import preset_config
from core.jobs.job_progress import describe_progress
from core.jobs.queue_estimate import JOB_OVERHEAD_SECONDS, MIN_REMAINING_SECONDS, estimated_starts, job_seconds
from core.jobs.training_jobs import JobState
from core.training.events import COMPLETED, QUEUED, RUNNING, EpochEnd

NOW = 1_000_000.0
TEN_EPOCHS = preset_config("mlp", epochs=10)
ONE_EPOCH = preset_config("mlp", epochs=1)


def per_epoch(seconds):
    return lambda config: seconds


def epoch(number, seconds):
    return EpochEnd(number, 0.5, 0.9, 0.5, 0.9, 0.1, seconds, 1000.0)


def test_one_slot_queued_jobs_start_one_after_another():
    states = [
        JobState("run", TEN_EPOCHS, status=RUNNING, started=NOW - 20.0),
        JobState("q1", ONE_EPOCH, status=QUEUED, queue_position=1),
        JobState("q2", TEN_EPOCHS, status=QUEUED, queue_position=2),
        JobState("done", TEN_EPOCHS, status=COMPLETED),
    ]
    starts = estimated_starts(states, 1, per_epoch(5.0), now=NOW)
    running_left = 10 * 5.0 + JOB_OVERHEAD_SECONDS - 20.0
    assert starts == pytest.approx({"q1": running_left, "q2": running_left + 5.0 + JOB_OVERHEAD_SECONDS})


def test_a_running_job_with_epochs_is_timed_by_its_own_epochs():
    running = JobState("run", TEN_EPOCHS, status=RUNNING, started=NOW - 100.0,
                       epochs=(epoch(1, 9.0), epoch(2, 3.0), epoch(3, 3.0)))
    starts = estimated_starts([running, JobState("q", ONE_EPOCH, status=QUEUED, queue_position=1)], 1,
                              per_epoch(50.0), now=NOW)
    assert starts["q"] == pytest.approx(7 * 3.0 + 1.0)  # the first epoch's tracing is left out


def test_two_slots_fill_the_free_one_first_and_never_say_a_job_already_ended():
    late = JobState("late", ONE_EPOCH, status=RUNNING, started=NOW - 500.0)  # past its estimate
    waiting = [JobState(f"q{i}", ONE_EPOCH, status=QUEUED, queue_position=i) for i in (1, 2, 3)]
    starts = estimated_starts([late, *waiting], 2, per_epoch(10.0), now=NOW)
    assert starts["q1"] == 0.0
    assert starts["q2"] == MIN_REMAINING_SECONDS
    assert starts["q3"] == pytest.approx(job_seconds(ONE_EPOCH, 10.0))  # after q1, which took the free slot at 0


def test_the_queued_text_gives_the_position_and_the_estimated_start():
    state = JobState("q", ONE_EPOCH, status=QUEUED, queue_position=2)
    report = describe_progress(state, starts_in=185.0, now=NOW)
    assert "position 2" in report.text and "starts in about 3 min 5 s" in report.text and "around" in report.text
    assert "as soon as a worker takes it" in describe_progress(state, starts_in=0.0).text
