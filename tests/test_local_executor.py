"""The local executor, with real spawned worker processes: events in order, commands within a
batch, a worker killed mid-training, and the next job on a fresh worker."""

import os
import queue
import signal
import threading
import time

import pytest

from core.config.train_config import preset_config
from core.jobs.executor import PAUSE, RESUME, SET_LEARNING_RATE, STOP, Command, JobError, JobRequest, WorkerLost
from core.jobs.local_executor import LocalExecutor
from core.runs.store import load_run
from core.training.events import COMPLETED, INTERRUPTED, STOPPED, EpochEnd, Progress, RunDone

WARM_UP_SECONDS = 300  # generous for a CPU shared with other work; never a performance check


@pytest.fixture(scope="module")
def executor():
    executor = LocalExecutor(workers=1, mnist_path=os.environ["MNIST_PATH"])
    assert executor.wait_until_warm(WARM_UP_SECONDS), "the worker never warmed up"
    yield executor
    executor.close()


def request(runs_dir, name, **overrides):
    config = preset_config("mlp", **{"epochs": 2, "train_size": 2000, "batch_size": 100, "validation_size": 500,
                                     "activation": "relu", "initializer": "he_normal", "optimizer": "adam",
                                     "learning_rate": 1e-3, **overrides})
    return JobRequest(config, name, str(runs_dir), os.environ["MNIST_PATH"])


def test_events_stream_in_order_and_the_run_lands_in_the_runs_directory(executor, tmp_runs_dir):
    events = list(executor.start(request(tmp_runs_dir, "in-order")).events())
    kinds = [type(event).__name__ for event in events]
    assert kinds[-1] == "RunDone" and kinds.count("RunDone") == 1
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2]
    assert kinds.index("EpochEnd") < len(kinds) - 1
    epoch_of_each = [e.epoch for e in events if isinstance(e, (Progress, EpochEnd))]
    assert epoch_of_each == sorted(epoch_of_each)
    done = events[-1]
    assert done.status == COMPLETED and done.name == "in-order" and 0.5 < done.test_accuracy <= 1.0
    saved = load_run("in-order", tmp_runs_dir)
    assert saved.status == COMPLETED and len(saved.epochs) == 2 and saved.has_model and saved.has_predictions


def test_pause_holds_resume_goes_on_and_a_new_learning_rate_shows_in_the_metrics(executor, tmp_runs_dir):
    handle = executor.start(request(tmp_runs_dir, "steered", epochs=3, train_size=6000, batch_size=20, learning_rate=0.01))
    events = handle.events()
    seen = []
    for event in events:
        seen.append(event)
        if isinstance(event, Progress):
            break
    handle.send(Command(PAUSE))
    paused_at = time.monotonic()
    handle.send(Command(SET_LEARNING_RATE, 0.002))
    # While paused nothing arrives: read on another thread, with deadlines here.
    arrivals: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [arrivals.put(e) for e in events], daemon=True).start()
    time.sleep(2.0)
    held = []
    while not arrivals.empty():
        held.append(arrivals.get())
    assert len(held) <= 1, f"{len(held)} events arrived while paused"  # at most the batch in flight
    handle.send(Command(RESUME))
    rest = []
    while not rest or not isinstance(rest[-1], RunDone):
        rest.append(arrivals.get(timeout=WARM_UP_SECONDS))
    assert time.monotonic() - paused_at >= 2.0
    epochs = [e for e in seen + held + rest if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert all(e.learning_rate == pytest.approx(0.002) for e in epochs), "the change took effect in epoch 1"
    assert [e["learning_rate"] for e in load_run("steered", tmp_runs_dir).epochs] == pytest.approx([0.002] * 3)


def test_stop_ends_the_job_after_its_current_batch_keeping_finished_epochs(executor, tmp_runs_dir):
    handle = executor.start(request(tmp_runs_dir, "stopped", epochs=50, train_size=3000, batch_size=50))
    for event in handle.events():
        if isinstance(event, EpochEnd):
            handle.send(Command(STOP))
        if isinstance(event, RunDone):
            break
    assert event.status == STOPPED and 1 <= event.epochs_completed < 50
    assert load_run("stopped", tmp_runs_dir).status == STOPPED


def test_a_job_that_fails_reports_the_workers_message(executor, tmp_runs_dir):
    list(executor.start(request(tmp_runs_dir, "dup", epochs=1)).events())
    with pytest.raises(JobError, match="already exists"):
        list(executor.start(request(tmp_runs_dir, "dup", epochs=1)).events())


def test_a_killed_worker_leaves_its_run_interrupted_and_the_next_job_gets_a_fresh_worker(executor, tmp_runs_dir):
    [old_pid] = executor.worker_pids()
    handle = executor.start(request(tmp_runs_dir, "killed", epochs=50, train_size=3000, batch_size=50))
    epochs = 0
    with pytest.raises(WorkerLost, match="signal 9"):
        for event in handle.events():
            if isinstance(event, EpochEnd):
                epochs += 1
                if epochs == 2:
                    os.kill(old_pid, signal.SIGKILL)
    saved = load_run("killed", tmp_runs_dir)
    assert saved.status == INTERRUPTED and len(saved.epochs) == 2 and "signal 9" in saved.reason
    assert executor.wait_until_warm(WARM_UP_SECONDS)
    [new_pid] = executor.worker_pids()
    assert new_pid != old_pid
    done = list(executor.start(request(tmp_runs_dir, "after-the-kill", epochs=1)).events())[-1]
    assert done.status == COMPLETED
