"""Background training jobs: the concurrency cap, queue positions, stopping, and failures."""

import time

import pytest

import core.jobs.training_jobs
from core.training.events import COMPLETED, FAILED, QUEUED, RUNNING, STOPPED
from core.runs.store import load_run
from core.jobs.training_jobs import QueueFullError, TrainingJobs
from core.config.train_config import preset_config

WAIT = 300  # seconds; generous for a CPU shared with other work, never a performance check


def wait_until(predicate, what: str):
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_cap_queue_positions_and_stopping(jobs_on_the_warm_worker, tmp_runs_dir):
    jobs = jobs_on_the_warm_worker()
    # A would train for a long while (60 epochs); it is stopped after its first.
    long = preset_config("mlp", epochs=60, train_size=1000, validation_size=100, batch_size=20)
    short = preset_config("mlp", epochs=1, train_size=200, validation_size=100, batch_size=50)
    before = jobs.version
    a, b, c = jobs.submit(long, name="job-a"), jobs.submit(short, name="job-b"), jobs.submit(short, name="job-c")
    assert jobs.version > before  # a page polling the queue sees that it changed

    wait_until(lambda: jobs.get(a).status == RUNNING, "job A to start")
    assert (jobs.get(b).status, jobs.get(b).queue_position) == (QUEUED, 1)
    assert (jobs.get(c).status, jobs.get(c).queue_position) == (QUEUED, 2)
    assert jobs.active_count() == (1, 2)

    jobs.stop(c)  # while queued: it leaves the queue and never makes a run folder
    stopped_c = jobs.wait(c, timeout=WAIT)
    assert stopped_c.status == STOPPED and "queue" in stopped_c.reason and stopped_c.run_name is None
    assert jobs.get(b).queue_position == 1 and jobs.active_count() == (1, 1)

    wait_until(lambda: len(jobs.get(a).epochs) >= 1, "job A's first epoch")
    assert jobs.get(b).status == QUEUED  # the cap holds while A runs
    jobs.stop(a)  # while running: it stops after its current batch, keeping finished epochs
    stopped_a = jobs.wait(a, timeout=WAIT)
    assert stopped_a.status == STOPPED and 1 <= len(stopped_a.epochs) < 60
    assert stopped_a.test_accuracy is not None  # a stopped run with finished epochs is evaluated and saved
    saved_a = load_run("job-a", tmp_runs_dir)
    assert saved_a.status == STOPPED and len(saved_a.epochs) == len(stopped_a.epochs) and saved_a.has_model

    done_b = jobs.wait(b, timeout=WAIT)
    assert done_b.status == COMPLETED and done_b.run_name == "job-b" and len(done_b.epochs) == 1
    assert 0.0 < done_b.test_accuracy <= 1.0
    assert done_b.started >= stopped_a.ended  # B waited for A's slot
    assert jobs.peak_running == 1 and jobs.active_count() == (0, 0)
    assert sorted(p.name for p in tmp_runs_dir.iterdir()) == ["job-a", "job-b"]
    settled = jobs.version  # nothing runs any more: reading the queue changes nothing
    assert [jobs.get(job).status for job in (a, b, c)] == [STOPPED, COMPLETED, STOPPED] and jobs.version == settled


def test_a_job_that_cannot_load_mnist_fails_with_a_clear_reason(tmp_runs_dir, tmp_path):
    missing = tmp_path / "missing" / "mnist.npz"
    jobs = TrainingJobs(max_concurrent=1, runs_dir=tmp_runs_dir, mnist_path=missing)
    state = jobs.wait(jobs.submit(preset_config("mlp", epochs=1, train_size=200)), timeout=WAIT)
    assert state.status == FAILED
    assert str(missing) in state.reason and "MNIST_PATH" in state.reason
    assert jobs.active_count() == (0, 0) and not any(tmp_runs_dir.iterdir())


def test_a_full_queue_refuses_new_jobs(tmp_runs_dir, monkeypatch):
    monkeypatch.setattr(core.jobs.training_jobs, "MAX_QUEUED", 0)
    jobs = TrainingJobs(max_concurrent=1, runs_dir=tmp_runs_dir)
    with pytest.raises(QueueFullError, match="try again"):
        jobs.submit(preset_config("mlp", epochs=1, train_size=200))
    assert jobs.active_count() == (0, 0)


def test_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(core.jobs.training_jobs.MAX_CONCURRENT_ENV, "3")
    assert TrainingJobs().max_concurrent == 3
    monkeypatch.setenv(core.jobs.training_jobs.MAX_CONCURRENT_ENV, "lots")
    assert TrainingJobs().max_concurrent == core.jobs.training_jobs.DEFAULT_MAX_CONCURRENT


def test_a_job_keeps_its_batch_points_and_the_learning_rate_changes_sent_to_it(jobs_on_the_warm_worker, tmp_runs_dir):
    jobs = jobs_on_the_warm_worker()
    try:
        job = jobs.submit(preset_config("mlp", epochs=60, train_size=1000, validation_size=100, batch_size=20), name="steered")
        wait_until(lambda: len(jobs.get(job).points) >= 2, "the job's first points")
        jobs.set_learning_rate(job, 0.02)
        assert jobs.get(job).learning_rate == 0.02
        wait_until(lambda: jobs.get(job).learning_rate_changes, "the change to come back from the worker")
        [change] = jobs.get(job).learning_rate_changes
        assert change.learning_rate == pytest.approx(0.02) and change.previous == pytest.approx(0.1)
        wait_until(lambda: len(jobs.get(job).epochs) >= change.epoch, "the epoch of the change to end")
        jobs.stop(job)
        state = jobs.wait(job, timeout=WAIT)
        steps = [p.step for p in state.points]
        assert steps == sorted(steps) and len(steps) >= len(state.epochs)
        assert state.epochs[-1].learning_rate == pytest.approx(0.02)
        assert [e["learning_rate"] for e in load_run("steered", tmp_runs_dir).epochs][-1] == pytest.approx(0.02)
    finally:
        jobs.close()


def test_a_queue_closed_before_its_warm_up_starts_no_workers(tmp_runs_dir):
    # A test (or a server shutting down) that asked for the queue and closed it at once left a worker
    # process running for minutes: the delayed warm-up started it after close().
    import multiprocessing

    before = set(multiprocessing.active_children())
    jobs = TrainingJobs(max_concurrent=1, runs_dir=tmp_runs_dir)
    jobs.warm_up_soon(delay_seconds=0.2)
    jobs.close()
    time.sleep(1.0)  # well past the delay: a warm-up that ignored close() has started its workers by now
    assert jobs._executor is None
    # No new process; an earlier test's worker may have ended meanwhile (fewer is fine).
    assert not set(multiprocessing.active_children()) - before


def test_a_warm_up_that_fails_is_logged_and_the_first_training_says_why(tmp_runs_dir, monkeypatch, caplog):
    # The dashboard warms the executor up on a thread after its first page view; a failure there
    # (no such executor, no cluster) must neither break that page nor vanish.
    monkeypatch.setenv("MNIST_LAB_EXECUTOR", "nonsense")
    jobs = TrainingJobs(max_concurrent=1, runs_dir=tmp_runs_dir)
    with caplog.at_level("WARNING", logger="core.jobs.training_jobs"):
        jobs.warm_up_soon(delay_seconds=0)  # returns at once: the page never waits for it
        wait_until(lambda: any("could not start yet" in r.getMessage() for r in caplog.records), "the warning")
    assert "Unknown executor 'nonsense'" in caplog.text
    job = jobs.submit(preset_config("mlp", epochs=1, train_size=200, validation_size=100))
    ended = jobs.wait(job, timeout=WAIT)
    assert ended.status == FAILED and "Unknown executor 'nonsense'" in ended.reason and "MNIST_LAB_EXECUTOR" in ended.reason
