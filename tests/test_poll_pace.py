"""How often a page redraws the job it follows (`core/jobs/poll_pace.py`): quick while a change is
due, every second while it trains, every two seconds while one job is ahead of it in the queue, every
five while more are."""

from core.config.train_config import preset_config
from core.jobs.poll_pace import FAR_QUEUED_POLL_SECONDS, POLL_SECONDS, QUEUED_POLL_SECONDS, QUICK_POLL_SECONDS, poll_seconds
from core.jobs.training_jobs import JobState
from core.training.events import QUEUED, RUNNING, EpochEnd, Progress

CONFIG = preset_config("mlp", epochs=2, train_size=300, validation_size=100)
POINT = Progress(1, 0.5, 0.9, 0.7, 1.0)


def epoch(number):
    return EpochEnd(number, 0.5, 0.8, 0.6, 0.78, 0.1, 3.0, 1000.0)


def test_a_job_behind_others_polls_slowly_and_quickly_once_it_is_next():
    assert poll_seconds(JobState("j", CONFIG, status=QUEUED, queue_position=7)) == FAR_QUEUED_POLL_SECONDS
    assert poll_seconds(JobState("j", CONFIG, status=QUEUED, queue_position=3)) == FAR_QUEUED_POLL_SECONDS
    assert poll_seconds(JobState("j", CONFIG, status=QUEUED, queue_position=2)) == QUEUED_POLL_SECONDS
    assert poll_seconds(JobState("j", CONFIG, status=QUEUED, queue_position=1)) == QUICK_POLL_SECONDS


def test_a_running_job_polls_quickly_until_its_first_point_and_again_while_it_scores():
    assert poll_seconds(JobState("j", CONFIG, status=RUNNING)) == QUICK_POLL_SECONDS
    assert poll_seconds(JobState("j", CONFIG, status=RUNNING, points=(POINT,))) == POLL_SECONDS
    assert poll_seconds(JobState("j", CONFIG, status=RUNNING, points=(POINT,), epochs=(epoch(1),))) == POLL_SECONDS
    assert poll_seconds(JobState("j", CONFIG, status=RUNNING, points=(POINT,), epochs=(epoch(1), epoch(2)))) == QUICK_POLL_SECONDS
    assert QUICK_POLL_SECONDS < POLL_SECONDS < QUEUED_POLL_SECONDS < FAR_QUEUED_POLL_SECONDS
