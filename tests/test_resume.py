"""Resume: a run goes on from its last kept checkpoint as the same run, its epochs appended, none lost or counted twice."""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli import main as cli_main
from core.config.train_config import ConfigError, preset_config
from core.jobs.executor import PAUSE, STEP, Command, JobRequest, WorkerLost
from core.jobs.local_executor import LocalExecutor
from core.jobs.training_jobs import TrainingJobs
from core.runs.checkpoints import (
    checkpoint_path, folder_bytes, list_checkpoints, load_checkpoint_numpy_model, load_checkpoint_predictions,
    load_keras_state,
)
from core.runs.continuations import (
    continuation_files, continuation_schedule_note, cut_back_to, place_files, resume_epoch, resume_shipping,
)
from core.runs.recorded_run import RecordedRun
from core.runs.run_mirror import RunMirror, returned_files
from core.runs.store import RunError, load_points, load_run, process_start_time
from core.training.compiled_models import CompiledModels
from core.training.events import COMPLETED, EARLY_STOPPED, INTERRUPTED, EpochEnd, Progress, RunDone
from core.training.one_cycle_plan import continued_cycles, describe_continued_cycles, fresh_cycles
from core.training.patience import PatienceCount, continued_early_stopping

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


# --- what a resume carries besides the model: early stopping's count, the one-cycle schedule ------------------------


# As a worker trains them: its compiled models kept from run to run (a continuation of a one-cycle run, whose
# schedule differs, compiles its own).
WARM = CompiledModels()


def interrupted_copy(runs_dir, name: str, copy: str, epoch: int) -> None:
    """Run `name` as a kill after `epoch` leaves it: its checkpoints past `epoch` gone, its process dead (the
    epoch lines after it stay, as a kill between a line and its checkpoint leaves them: the resume drops them)."""
    shutil.copytree(runs_dir / name, runs_dir / copy)
    for later in [kept for kept in list_checkpoints(runs_dir, copy) if kept > epoch]:
        shutil.rmtree(checkpoint_path(runs_dir, copy, later))
    status = json.loads((runs_dir / copy / "status.json").read_text())
    status.update(status="running", pid=2**22 + 7, pid_started="0")  # its process is gone: it reads as interrupted
    (runs_dir / copy / "status.json").write_text(json.dumps(status))
    assert load_run(copy, runs_dir).status == INTERRUPTED and resume_epoch(runs_dir, copy) == epoch


def test_patience_counts_as_kerass_early_stopping_and_goes_on_from_a_carried_count():
    import keras

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=100)
    callback.set_model(model)
    callback.on_train_begin()
    count = PatienceCount()
    for index, value in enumerate([0.9, 0.8, 0.85, 0.8, 0.7, float("nan"), 0.71, 0.7, 0.69, 0.75]):
        callback.on_epoch_end(index, {"val_loss": value})
        count = count.after(index + 1, value)
        assert (count.waited, count.best_val_loss, count.best_epoch) == (callback.wait, callback.best, callback.best_epoch + 1)
    assert PatienceCount.from_dict(json.loads(json.dumps(count.to_dict()))) == count

    carried = continued_early_stopping(PatienceCount(0.5, 3, 1), monitor="val_loss", patience=2)
    carried.set_model(model)
    model.stop_training = False
    carried.on_train_begin()
    carried.on_epoch_end(3, {"val_loss": 0.6})  # epoch 4 waits a second epoch: patience 2 is used up
    assert model.stop_training and carried.stopped_epoch == 3
    with pytest.raises(ValueError, match="`waited` must be a non-negative integer"):
        PatienceCount.from_dict({"best_val_loss": 0.5, "best_epoch": 3, "waited": -1})


@pytest.fixture(scope="module")
def patient(mnist, tmp_path_factory):
    """A run stopped by its patience (2): the uninterrupted reference."""
    runs_dir = tmp_path_factory.mktemp("patience") / "runs"
    config = small_config(epochs=8, train_size=600, batch_size=50, learning_rate=3e-3, patience=2)
    events = list(RecordedRun(config, runs_dir=runs_dir, name="patient", mnist=mnist, compiled_models=WARM))
    return runs_dir, config, events


def test_a_resume_goes_on_counting_patience_and_stops_where_the_uninterrupted_run_stopped(patient, mnist):
    """The reference stopped at epoch e (its best e-2). Interrupted after e-1, one epoch already waited, and resumed,
    it stops after epoch e too: the count came with the checkpoint (started afresh, it trained two epochs more)."""
    runs_dir, config, events = patient
    done, reference = events[-1], epochs_of(events)
    assert done.status == EARLY_STOPPED, f"the reference must stop by its patience: {done.status} ({done.reason})"
    stop = done.epochs_completed
    assert min(reference, key=lambda e: e.val_loss).epoch == stop - 2
    interrupted_copy(runs_dir, "patient", "patient-cut", stop - 1)
    assert json.loads((checkpoint_path(runs_dir, "patient-cut", stop - 1) / "training_state.json").read_text())[
        "patience"]["waited"] == 1

    resumed = list(RecordedRun(config.replace(epochs=config.epochs - (stop - 1)), runs_dir=runs_dir, name="patient-cut",
                               mnist=mnist, resume=True, compiled_models=WARM))
    assert [e.epoch for e in epochs_of(resumed)] == [stop]
    assert resumed[-1].status == EARLY_STOPPED and resumed[-1].epochs_completed == stop
    for metric in METRICS:
        assert getattr(epochs_of(resumed)[0], metric) == pytest.approx(getattr(reference[-1], metric), rel=1e-4, abs=1e-6)
    run, uninterrupted = load_run("patient-cut", runs_dir), load_run("patient", runs_dir)
    assert run.model_epoch == uninterrupted.model_epoch == stop - 2  # the best epoch's model, from its checkpoint
    assert run.test_accuracy == pytest.approx(uninterrupted.test_accuracy, abs=1e-4)


def test_one_cycle_cycles_continue_as_planned_and_new_epochs_get_a_cycle_of_their_own():
    assert fresh_cycles(48) == ((0, 48),)
    assert continued_cycles(((0, 48),), 24, 48) == ((0, 48),)  # interrupted at half, resumed to its epochs
    assert continued_cycles(((0, 48),), 24, 72) == ((0, 48), (48, 72))  # resumed for more: the cycle ends, a new one
    assert continued_cycles(((0, 48),), 48, 72) == ((0, 48), (48, 72))  # a finished run resumed
    assert continued_cycles(((0, 48), (48, 72)), 48, 60) == ((0, 48), (48, 60))  # a later cycle's plan is dropped
    assert continued_cycles((), 24, 48) == ((24, 48),)  # a constant-rate parent forked into one-cycle
    assert describe_continued_cycles(((0, 48),), 24, 12) == "one-cycle: goes on with its cycle over epochs 1-4 as planned"
    assert describe_continued_cycles(((0, 48), (48, 72)), 48, 12) == (
        "one-cycle: a new cycle over epochs 5-6 (warm-up to the learning rate, then annealing); "
        "its cycle had ended at epoch 4")
    assert describe_continued_cycles(((0, 48), (48, 60)), 24, 12) == (
        "one-cycle: goes on with its cycle over epochs 1-4 as planned, then a new cycle over epoch 5 "
        "(warm-up to the learning rate, then annealing)")


@pytest.fixture(scope="module")
def one_cycle(mnist, tmp_path_factory):
    """A finished 2-epoch one-cycle run (12 batches an epoch), and a copy of it interrupted after epoch 1."""
    runs_dir = tmp_path_factory.mktemp("one-cycle") / "runs"
    config = small_config(epochs=2, schedule="one_cycle", learning_rate=0.01, train_size=600, batch_size=50)
    run = RecordedRun(config, runs_dir=runs_dir, name="cycle", mnist=mnist, compiled_models=WARM)
    events = list(run)
    interrupted_copy(runs_dir, "cycle", "cycle-cut", 1)
    return runs_dir, config, run, events


def test_an_interrupted_one_cycle_run_resumed_to_its_epochs_trains_each_batch_at_the_uninterrupted_rate(one_cycle, mnist):
    runs_dir, config, reference, events = one_cycle
    resumed = RecordedRun(config.replace(epochs=1), runs_dir=runs_dir, name="cycle-cut", mnist=mnist, resume=True,
                          compiled_models=WARM)
    assert resumed.trainer.cycles == ((0, 24),)  # the run's own cycle, not one over the epoch left
    again = list(resumed)
    optimizer, uninterrupted = resumed.trainer.model.optimizer, reference.trainer.model.optimizer
    assert int(optimizer.iterations) == int(uninterrupted.iterations) == 24  # the same steps, numbered the same
    rates = [float(optimizer._learning_rate(step)) for step in range(12, 24)]  # the rate of each batch of epoch 2
    assert rates == [float(uninterrupted._learning_rate(step)) for step in range(12, 24)]
    assert rates[-1] < rates[0] / 50  # annealed to its end, as planned (a cycle over 1 epoch would have ended already)
    for kept, later in zip(epochs_of(events)[1:], epochs_of(again), strict=True):
        assert later.learning_rate == kept.learning_rate
        for metric in METRICS:
            assert getattr(later, metric) == pytest.approx(getattr(kept, metric), rel=1e-4, abs=1e-6)
    first = {point["step"]: point["learning_rate"] for point in load_points("cycle", runs_dir)[0] if point["epoch"] > 1}
    second = {point["step"]: point["learning_rate"] for point in load_points("cycle-cut", runs_dir)[0] if point["epoch"] > 1}
    assert set(first) & set(second) and all(first[step] == second[step] for step in set(first) & set(second))
    status = json.loads((runs_dir / "cycle-cut" / "status.json").read_text())
    assert status["resumed"][-1]["one_cycle"] == "one-cycle: goes on with its cycle over epochs 1-2 as planned"


def test_a_finished_one_cycle_run_resumed_for_more_epochs_warms_up_a_new_cycle_and_says_so(one_cycle, mnist):
    runs_dir, config, _, events = one_cycle
    said = continuation_schedule_note(runs_dir, "cycle", 2, config.replace(epochs=2))  # what Runs and Train show first
    assert said == ("one-cycle: a new cycle over epochs 3-4 (warm-up to the learning rate, then annealing); "
                    "its cycle had ended at epoch 2")
    resumed = RecordedRun(config.replace(epochs=2), runs_dir=runs_dir, name="cycle", mnist=mnist, resume=True,
                          compiled_models=WARM)
    assert resumed.trainer.cycles == ((0, 24), (24, 48))
    later = epochs_of(list(resumed))
    schedule = resumed.trainer.model.optimizer._learning_rate
    assert float(schedule(24)) == pytest.approx(0.01 / 25, rel=1e-5)  # warming up again from a 25th of the peak
    assert max(float(schedule(step)) for step in range(24, 48)) == pytest.approx(0.01, rel=1e-3)
    assert epochs_of(events)[-1].learning_rate < 1e-4 < later[0].learning_rate  # not trained at the old cycle's end
    assert json.loads((runs_dir / "cycle" / "status.json").read_text())["resumed"][-1]["one_cycle"] == said


# --- a resume on another machine (the Ray executor's path, without a cluster) -------------------------------------


def test_a_resume_elsewhere_ships_only_what_training_reads_and_ends_as_the_same_resume_here(mnist, tmp_path):
    """What `RayExecutor.start` ships for a resume (`continuation_files`), trained on a scratch 'node' folder as
    `_train_on_node` trains it, and mirrored back as `_RayJob` mirrors it: the kept checkpoints, their predictions
    and the disk budget's pruning end as those of the same resume trained here."""
    runs_dir, node = tmp_path / "runs", tmp_path / "node"
    config = small_config(epochs=2, train_size=600, batch_size=50, hidden_units=32, checkpoint_budget_mb=2.0)
    list(RecordedRun(config, runs_dir=runs_dir, name="origin", mnist=mnist, compiled_models=WARM))
    kept = list_checkpoints(runs_dir, "origin")
    assert kept == [1, 2]  # within the budget at 2 epochs; 4 are not
    best = load_run("origin", runs_dir).best_epoch

    finished = resume_shipping(runs_dir, "origin")  # a finished run: every checkpoint has its predictions
    assert finished.wanted == {2: ("keras_state.npz", "training_state.json")}
    assert finished.weights_only == (() if best == 2 else (best,))  # the best epoch's, for the run's kept model
    shipped = continuation_files(runs_dir, "origin")
    assert {name for name in shipped if name.startswith("checkpoints/")} == {
        "checkpoints/epoch-0002/keras_state.npz", "checkpoints/epoch-0002/training_state.json",
        *(f"checkpoints/epoch-{epoch:04d}/keras_state.npz" for epoch in finished.weights_only)}
    every_checkpoint = folder_bytes(runs_dir / "origin" / "checkpoints")
    assert sum(map(len, shipped.values())) < every_checkpoint / 2
    assert resume_shipping(runs_dir, "origin", with_maps=True).weights_only == (1,)  # each kept epoch on the map

    for twin in ("here", "there"):  # killed before its end: no checkpoint has test-set predictions yet
        interrupted_copy(runs_dir, "origin", twin, 2)
        for epoch in kept:
            (checkpoint_path(runs_dir, twin, epoch) / "predictions.npz").unlink()
    killed = resume_shipping(runs_dir, "there")
    assert killed.weights_only == (1,) and all(not predicted for _, predicted in killed.elsewhere.values())
    with np.load(io.BytesIO(continuation_files(runs_dir, "there")["checkpoints/epoch-0001/keras_state.npz"])) as state:
        weights, _ = load_keras_state(runs_dir, "there", 1)
        assert sorted(state.files) == [f"weight.{index:03d}" for index in range(len(weights))]  # no optimizer slots
        assert all(np.array_equal(state[f"weight.{index:03d}"], weight) for index, weight in enumerate(weights))

    more = config.replace(epochs=2)
    here = list(RecordedRun(more, runs_dir=runs_dir, name="here", mnist=mnist, resume=True, compiled_models=WARM))
    cut_back_to(runs_dir, "there", 2)  # RayExecutor.start
    shipped = continuation_files(runs_dir, "there")
    place_files(node / "there", shipped)  # _train_on_node
    on_node = RecordedRun(more, runs_dir=node, name="there", mnist=mnist, resume=True, compiled_models=WARM,
                          checkpoints_elsewhere=killed.elsewhere)
    mirror = RunMirror(more, runs_dir, "there", resumed_from=2)  # _RayJob
    for event in on_node:
        mirror.record(event)
    returned = returned_files(node / "there", shipped)
    came_back = {name for name in returned if name.startswith("checkpoints/")} & set(shipped)
    assert not came_back  # the checkpoint files that came, unchanged, are not sent back
    mirror.finish_from(returned, kept_checkpoints=on_node.checkpoints.written)

    there_status = json.loads((runs_dir / "there" / "status.json").read_text())
    assert here[-1].epochs_completed == 4 and there_status["epochs_completed"] == 4
    assert [e["epoch"] for e in load_run("there", runs_dir).epochs] == [1, 2, 3, 4]
    kept_here = list_checkpoints(runs_dir, "here")
    assert list_checkpoints(runs_dir, "there") == kept_here and len(kept_here) < 4  # pruned alike, by the budget
    for epoch in kept_here:
        y_here, here_probabilities = load_checkpoint_predictions(runs_dir, "here", epoch)
        y_there, there_probabilities = load_checkpoint_predictions(runs_dir, "there", epoch)
        assert (y_here == y_there).all() and np.allclose(here_probabilities, there_probabilities, atol=2e-3)
        load_checkpoint_numpy_model(runs_dir, "there", epoch)  # the views' files of each kept epoch are whole
