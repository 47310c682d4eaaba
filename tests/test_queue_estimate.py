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


def test_the_time_cap_bounds_every_estimate_and_a_later_place_never_starts_sooner():
    # A 30-epoch job estimated at an hour, on a server that stops every training after 10 minutes.
    long = preset_config("mlp", epochs=30)
    cap = 600.0
    running = JobState("run", long, status=RUNNING, started=NOW - 60.0)
    waiting = [JobState("q1", long, status=QUEUED, queue_position=1),
               JobState("q2", ONE_EPOCH, status=QUEUED, queue_position=2),
               JobState("q3", long, status=QUEUED, queue_position=3)]
    uncapped = estimated_starts([running, *waiting], 1, per_epoch(120.0), now=NOW)
    starts = estimated_starts([running, *waiting], 1, per_epoch(120.0), now=NOW, max_job_seconds=cap)
    assert uncapped["q1"] == pytest.approx(30 * 120.0 + JOB_OVERHEAD_SECONDS - 60.0)  # what the page said before
    assert starts["q1"] == pytest.approx(cap + JOB_OVERHEAD_SECONDS - 60.0)  # the running job stops at the cap
    assert starts["q2"] == pytest.approx(starts["q1"] + cap + JOB_OVERHEAD_SECONDS)  # q1 is capped too
    assert starts["q3"] == pytest.approx(starts["q2"] + 120.0 + JOB_OVERHEAD_SECONDS)
    assert job_seconds(long, 120.0, cap) == cap + JOB_OVERHEAD_SECONDS and job_seconds(ONE_EPOCH, 120.0, cap) < cap


def test_a_later_place_in_the_queue_never_shows_an_earlier_start_than_the_one_ahead():
    # Two slots, one free: a short job behind a long one must not be told it starts first.
    quick_end = JobState("ending", ONE_EPOCH, status=RUNNING, started=NOW - 1.0)
    paused_long = JobState("held", preset_config("mlp", epochs=30), status=RUNNING, started=NOW - 5.0, paused=True)
    waiting = [JobState(f"q{i}", config, status=QUEUED, queue_position=i, submitted=NOW - 10 + i)
               for i, config in ((3, ONE_EPOCH), (1, preset_config("mlp", epochs=30)), (2, ONE_EPOCH), (4, ONE_EPOCH))]
    for cap in (None, 600.0):
        starts = estimated_starts([quick_end, paused_long, *waiting], 2, per_epoch(60.0), now=NOW, max_job_seconds=cap)
        in_order = [starts[f"q{i}"] for i in (1, 2, 3, 4)]
        assert in_order == sorted(in_order), (cap, in_order)
