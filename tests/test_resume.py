"""Resume: a run goes on from its last kept checkpoint as the same run, its epochs appended, none lost or counted twice."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main as cli_main
from core.config.train_config import ConfigError, preset_config
from core.jobs.executor import PAUSE, STEP, Command, JobRequest, WorkerLost
from core.jobs.local_executor import LocalExecutor
from core.jobs.training_jobs import TrainingJobs
from core.runs.checkpoints import checkpoint_path, list_checkpoints
from core.runs.continuations import resume_epoch
from core.runs.recorded_run import RecordedRun
from core.runs.store import RunError, load_points, load_run, process_start_time
from core.training.events import COMPLETED, INTERRUPTED, EpochEnd, Progress, RunDone

ROOT = Path(__file__).resolve().parents[1]
WARM_UP_SECONDS = 300  # generous for a CPU shared with other work; never a performance check
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def small_config(**changes):
    return preset_config("mlp", **{"epochs": 4, "train_size": 2000, "validation_size": 300, "batch_size": 50,
                                   "optimizer": "adam", "learning_rate": 1e-3, "activation": "relu",
                                   "initializer": "he_normal", "patience": 0, **changes})


def epochs_of(events):
    return [event for event in events if isinstance(event, EpochEnd)]


def wait_for(condition, what: str, timeout: float = WARM_UP_SECONDS) -> None:
    """Poll `condition` until it holds (never a fixed wait); fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} never came"
        time.sleep(0.05)


def assert_points_in_order(runs_dir, name):
    """Each epoch's batch points once: the epochs ascending, the fractions rising within each (no half epoch twice)."""
    points, _ = load_points(name, runs_dir)
    keys = [(point["epoch"], point["fraction"]) for point in points]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), keys


def test_a_run_killed_mid_epoch_resumes_from_its_last_complete_epoch(mnist, tmp_runs_dir):
    """A real worker process is SIGKILLed in epoch 3 (held there by a pause: no timing); `--resume` then trains
    epochs 3 and 4 on a new worker, as an uninterrupted run trains them."""
    executor = LocalExecutor(workers=1, mnist_path=os.environ["MNIST_PATH"])
    try:
        assert executor.wait_until_warm(WARM_UP_SECONDS), "the worker never warmed up"
        [pid] = executor.worker_pids()
        handle = executor.start(JobRequest(small_config(), "killed", str(tmp_runs_dir), os.environ["MNIST_PATH"]))
        killed = False
        with pytest.raises(WorkerLost, match="signal 9"):
            for event in handle.events():
                if isinstance(event, EpochEnd) and event.epoch == 2:
                    handle.send(Command(PAUSE))  # held at its next batch, in epoch 3 (its checkpoint 2 written first)
                    handle.send(Command(STEP))  # one batch (group) of epoch 3 more, whose point says it is there
                if isinstance(event, Progress) and event.epoch == 3 and not killed:
                    # Checkpoint 2 is written on a thread of its own while epoch 3 trains: the kill waits for it
                    # (a kill before it lands is the other test's case), while the training holds, paused.
                    wait_for(lambda: checkpoint_path(tmp_runs_dir, "killed", 2).is_dir(), "checkpoint 2")
                    os.kill(pid, signal.SIGKILL)  # mid-epoch: paused, with at most a group of its batches trained
                    killed = True
    finally:
        executor.close()
    killed = load_run("killed", tmp_runs_dir)
    assert killed.status == INTERRUPTED and [e["epoch"] for e in killed.epochs] == [1, 2]
    assert any(point["epoch"] == 3 for point in load_points("killed", tmp_runs_dir)[0])  # it was in epoch 3
    assert resume_epoch(tmp_runs_dir, "killed") == 2

    command = [sys.executable, "-m", "core", "train", "--resume", "killed", "--epochs", "2", "--runs-dir",
               str(tmp_runs_dir), "--json"]
    resuming = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The oracle trains here while the resume's worker imports TensorFlow (a run of its own name: no shared file).
    reference = epochs_of(RecordedRun(small_config(checkpoint_budget_mb=0), runs_dir=tmp_runs_dir, name="uninterrupted",
                                      mnist=mnist))
    stdout, stderr = resuming.communicate(timeout=600)
    assert resuming.returncode == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["epoch"] for line in lines if line["event"] == "epoch"] == [3, 4]
    assert lines[-1]["event"] == "done" and lines[-1]["status"] == COMPLETED and lines[-1]["epochs_completed"] == 4

    resumed = load_run("killed", tmp_runs_dir)
    assert resumed.status == COMPLETED and [e["epoch"] for e in resumed.epochs] == [1, 2, 3, 4]  # each once
    assert resumed.has_model and resumed.test_accuracy is not None and list_checkpoints(tmp_runs_dir, "killed") == [1, 2, 3, 4]
    assert_points_in_order(tmp_runs_dir, "killed")
    status = json.loads((resumed.path / "status.json").read_text())
    assert status["epochs_completed"] == 4 and [r["from_epoch"] for r in status["resumed"]] == [2]

    for kept, again in zip(reference, resumed.epochs):
        for metric in METRICS:
            assert again[metric] == pytest.approx(getattr(kept, metric), rel=1e-4, abs=1e-6), (kept.epoch, metric)


@pytest.fixture(scope="module")
def three_epochs(mnist, tmp_path_factory):
    """A finished 3-epoch run, and one with no checkpoints."""
    runs_dir = tmp_path_factory.mktemp("resume") / "runs"
    config = small_config(epochs=3, train_size=600, batch_size=50)
    done = list(RecordedRun(config, runs_dir=runs_dir, name="three", mnist=mnist))
    list(RecordedRun(config.replace(epochs=1, checkpoint_budget_mb=0), runs_dir=runs_dir, name="bare", mnist=mnist))
    return runs_dir, config, done


def test_a_kill_between_an_epochs_line_and_its_checkpoint_counts_that_epoch_once(three_epochs, mnist):
    """The line of epoch 3 was written, its checkpoint not (the two threads race at a kill): a resume goes on from
    epoch 2, drops epoch 3's line and points, and trains epoch 3 again, once."""
    runs_dir, config, done = three_epochs
    shutil.copytree(runs_dir / "three", runs_dir / "cut")
    shutil.rmtree(checkpoint_path(runs_dir, "cut", 3))
    status = json.loads((runs_dir / "cut" / "status.json").read_text())
    status.update(status="running", pid=2**22 + 7, pid_started="0")  # its process is gone: it reads as interrupted
    (runs_dir / "cut" / "status.json").write_text(json.dumps(status))
    assert load_run("cut", runs_dir).status == INTERRUPTED and resume_epoch(runs_dir, "cut") == 2

    events = list(RecordedRun(config.replace(epochs=2), runs_dir=runs_dir, name="cut", mnist=mnist, resume=True))
    assert [e.epoch for e in epochs_of(events)] == [3, 4]
    finished = events[-1]
    assert isinstance(finished, RunDone) and finished.epochs_completed == 4 and finished.name == "cut"
    run = load_run("cut", runs_dir)
    assert [e["epoch"] for e in run.epochs] == [1, 2, 3, 4] and not run.problems
    first = epochs_of(done)
    for metric in METRICS:  # epochs 1-2 kept as they were; epoch 3 trained again as it was trained the first time
        assert [e[metric] for e in run.epochs[:2]] == [getattr(e, metric) for e in first[:2]]
        assert run.epochs[2][metric] == pytest.approx(getattr(first[2], metric), rel=1e-4, abs=1e-6)
    assert_points_in_order(runs_dir, "cut")
    assert run.best_epoch == min(run.epochs, key=lambda e: e["val_loss"])["epoch"]  # chosen among all four


def test_a_resume_with_nothing_to_resume_from_names_the_run_and_the_fix(three_epochs, mnist, capsys):
    runs_dir, config, _ = three_epochs
    with pytest.raises(RunError, match=r"No run named 'nowhere'.*pick another run"):
        RecordedRun(config, runs_dir=runs_dir, name="nowhere", mnist=mnist, resume=True)
    with pytest.raises(RunError, match=r"Run 'bare' has no checkpoint to resume from .*Train a new run instead"):
        RecordedRun(config, runs_dir=runs_dir, name="bare", mnist=mnist, resume=True)
    for bad, message in ((["--resume", "bare", "--epochs", "1"], "Run 'bare' has no checkpoint to resume from"),
                         (["--resume", "nowhere", "--epochs", "1"], "No run named 'nowhere'"),
                         (["--resume", "three"], "--resume needs --epochs N"),
                         (["--resume", "three", "--epochs", "1", "--learning-rate", "0.1"],
                          "takes no --learning-rate; pass only --epochs N (to change settings, fork it")):
        assert cli_main(["train", *bad, "--runs-dir", str(runs_dir)]) == 2  # before any worker starts
        stderr = capsys.readouterr().err
        assert message in stderr and stderr.count("\n") == 1, stderr
    assert [e["epoch"] for e in load_run("bare", runs_dir).epochs] == [1]  # a refusal changes nothing


def test_a_run_still_training_is_not_resumed(three_epochs, mnist):
    runs_dir, config, _ = three_epochs
    shutil.copytree(runs_dir / "three", runs_dir / "live")
    status = json.loads((runs_dir / "live" / "status.json").read_text())
    status.update(status="running", pid=os.getpid(), pid_started=process_start_time(os.getpid()))
    status.pop("supervisor_pid", None)
    (runs_dir / "live" / "status.json").write_text(json.dumps(status))
    with pytest.raises(RunError, match=r"Run 'live' is still training\. Stop it first"):
        RecordedRun(config, runs_dir=runs_dir, name="live", mnist=mnist, resume=True)


def test_the_job_queue_refuses_a_resume_or_a_fork_it_could_not_start(three_epochs):
    """What the Runs page's buttons submit is checked at once, before a job is queued or a worker is asked."""
    runs_dir, config, _ = three_epochs
    jobs = TrainingJobs(max_concurrent=1, runs_dir=runs_dir)
    try:
        with pytest.raises(RunError, match=r"Run 'bare' has no checkpoint to resume from"):
            jobs.submit(config.replace(epochs=1), name="bare", resume=True)
        with pytest.raises(RunError, match=r"Run 'three' has no checkpoint at epoch 9 \(kept: 1, 2, 3\)"):
            jobs.submit(config, fork_from=("three", 9))
        with pytest.raises(ConfigError, match=r"A fork keeps its parent's architecture: .*`hidden_units`"):
            jobs.submit(config.replace(hidden_units=32), fork_from=("three", 1))
        assert jobs.active_count() == (0, 0)
    finally:
        jobs.close()
