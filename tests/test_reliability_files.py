"""Damaged files and faults: broken run folders, no dataset while offline, runs directories that
cannot be written, a disk that fills up mid-save, stops before the first batch, runs deleted or
written while someone reads them.

Nothing that lists runs may raise; every failure names its fix; what was saved before stays
readable. One finished run is trained per module and copied for each damage.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import core.data.mnist
from core.cli import main as cli_main
from core.config.train_config import TrainConfig
from core.data.mnist import DatasetError, load_mnist
from core.training.events import COMPLETED, FAILED, INTERRUPTED, STOPPED, EpochEnd, Progress, TrainingEnd
from core.runs.recorded_run import RecordedRun
from core.runs.run_writer import RunWriter
from core.runs.store import (
    CONFIG_FILE, METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE, STATUS_FILE, RunError, delete_run, list_runs,
    load_model, load_model_file, load_predictions, load_run,
)
from core.data.splits import make_splits
from core.training.trainer import Trainer

TINY = dict(model="mlp", epochs=1, batch_size=50, train_size=300, validation_size=500)
RUN_FILES = [CONFIG_FILE, STATUS_FILE, METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE]


@pytest.fixture(scope="module")
def saved(mnist, tmp_path_factory):
    """A finished 2-epoch MLP run named `good`; tests copy it, never change it."""
    runs_dir = tmp_path_factory.mktemp("saved") / "runs"
    config = TrainConfig(**{**TINY, "epochs": 2})
    done = list(RecordedRun(config, runs_dir=runs_dir, name="good", mnist=mnist))[-1]
    assert done.status == COMPLETED and done.epochs_completed == 2
    return runs_dir / "good"


def copy_run(saved: Path, runs_dir: Path, name: str = "good") -> Path:
    return Path(shutil.copytree(saved, runs_dir / name))


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error  # one line, never a traceback
    return error


# --- damaged run folders ----------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_model_is_a_run_error_with_the_fix_and_the_run_stays_listed(saved, tmp_path, damage):
    run = copy_run(saved, tmp_path)
    data = (run / MODEL_FILE).read_bytes()
    damaged = {"garbage": os.urandom(len(data)), "truncated": data[: len(data) // 2], "empty": b""}[damage]
    (run / MODEL_FILE).write_bytes(damaged)
    with pytest.raises(RunError) as refused:
        load_model("good", tmp_path)
    assert "model.keras is corrupt" in str(refused.value) and "Delete the run and retrain" in str(refused.value)
    [summary] = list_runs(tmp_path)
    assert summary.name == "good" and summary.status == COMPLETED and len(summary.epochs) == 2
    assert load_predictions("good", tmp_path)[1].shape == (10_000, 10)  # the rest of the run still works


def test_corrupt_metrics_lines_are_skipped_and_reported(saved, tmp_path):
    run = copy_run(saved, tmp_path)
    first, second = (run / METRICS_FILE).read_text().splitlines()
    (run / METRICS_FILE).write_text("\n".join([
        first, "\x00\x01 binary junk", '{"epoch": "two"}', "[1, 2, 3]", second, '{"epoch": 3, "loss": 0.1',
    ]) + "\n")
    [summary] = list_runs(tmp_path)
    assert [epoch["epoch"] for epoch in summary.epochs] == [1, 2]
    assert summary.epochs == [json.loads(first), json.loads(second)]
    assert summary.problems == [f"{METRICS_FILE} line {n} is corrupt and was skipped" for n in (2, 3, 4, 6)]


def test_wrong_typed_values_in_status_and_metrics_never_break_the_listing(saved, tmp_path):
    run = copy_run(saved, tmp_path)
    copy_run(saved, tmp_path, "other")
    status = json.loads((run / STATUS_FILE).read_text())
    status.update(started="yesterday", ended=[1], test_accuracy="high", reason={"why": 1})
    (run / STATUS_FILE).write_text(json.dumps(status))
    first, second = (run / METRICS_FILE).read_text().splitlines()
    (run / METRICS_FILE).write_text(first + "\n" + second.replace('"seconds": ', '"seconds": "slow", "x": ') + "\n")
    summaries = {summary.name: summary for summary in list_runs(tmp_path)}  # sorting on `started` must not raise
    damaged = summaries["good"]
    assert damaged.started is None and damaged.ended is None and damaged.test_accuracy is None
    assert isinstance(damaged.reason, str)
    assert [epoch["epoch"] for epoch in damaged.epochs] == [1]
    assert damaged.problems == [f"{METRICS_FILE} line 2 is corrupt and was skipped"]
    assert isinstance(damaged.seconds, float) and damaged.best_val_accuracy is not None


@pytest.mark.parametrize("removed", RUN_FILES)
def test_run_with_a_file_missing_is_listed_with_the_problem(saved, tmp_path, removed):
    run = copy_run(saved, tmp_path)
    (run / removed).unlink()
    [summary] = list_runs(tmp_path)  # never raises
    assert summary.name == "good"
    assert f"{removed} is missing" in summary.problems, summary.problems
    if removed == STATUS_FILE:
        assert summary.status == INTERRUPTED and STATUS_FILE in summary.reason and "2 finished epoch(s) kept" in summary.reason
    else:
        assert summary.status == COMPLETED
    if removed == CONFIG_FILE:
        assert summary.model == "?" and len(summary.epochs) == 2
    if removed == METRICS_FILE:
        assert summary.epochs == [] and summary.best_val_accuracy is None and summary.seconds == 0.0
    if removed == MODEL_FILE:
        with pytest.raises(RunError, match="no saved model"):
            load_model("good", tmp_path)
    if removed == PREDICTIONS_FILE:
        with pytest.raises(RunError, match="no test predictions"):
            load_predictions("good", tmp_path)


@pytest.mark.parametrize("emptied", [CONFIG_FILE, STATUS_FILE, METRICS_FILE])
def test_run_with_an_empty_file_is_listed_with_the_problem(saved, tmp_path, emptied):
    run = copy_run(saved, tmp_path)
    (run / emptied).write_bytes(b"")
    [summary] = list_runs(tmp_path)
    expected = f"{METRICS_FILE} holds 0 of the 2 finished epochs" if emptied == METRICS_FILE else f"{emptied} is corrupt"
    assert any(problem.startswith(expected) for problem in summary.problems), summary.problems


def test_empty_run_folder_and_stray_files_never_break_the_listing(saved, tmp_path):
    copy_run(saved, tmp_path)
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a run")
    (tmp_path / ".good.tmp").mkdir()  # a hidden folder is not a run name
    runs = {summary.name: summary for summary in list_runs(tmp_path)}
    assert set(runs) == {"good", "empty-folder"}
    assert runs["empty-folder"].status == INTERRUPTED and runs["empty-folder"].problems


# --- the dataset ------------------------------------------------------------------------------

def test_no_dataset_while_offline_names_every_path_tried_and_downloads_nothing(tmp_path, monkeypatch):
    """Nothing local: the loader says where it looked and how to fix it, and never tries the network
    on its own (issue 17: Keras's download has no timeout, and a worker waited on it for ever)."""
    import urllib.request

    paths = [tmp_path / "project" / "mnist.npz", tmp_path / "keras" / "mnist.npz"]
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setattr(core.data.mnist, "PROJECT_MNIST_PATH", paths[0])
    monkeypatch.setattr(core.data.mnist, "KERAS_CACHE_PATH", paths[1])
    attempts = []

    def offline_urlopen(*args, **kwargs):
        attempts.append(args)
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline_urlopen)
    with pytest.raises(DatasetError) as refused:
        load_mnist()
    message = str(refused.value)
    assert attempts == [], "the loader tried to download without being asked"
    for path in paths:
        assert str(path) in message
    assert "MNIST_PATH" in message and "python -m core download-mnist" in message
    assert not any(path.exists() for path in paths)


def test_dataset_of_the_wrong_shape_stops_the_cli_with_one_line(tmp_path, capsys):
    bad = tmp_path / "mnist.npz"
    np.savez(bad, x_train=np.zeros((100, 28, 28), np.uint8), y_train=np.zeros(100, np.uint8),
             x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.zeros(10, np.uint8))
    status = cli_main(["train", "--model", "mlp", "--mnist-path", str(bad), "--runs-dir", str(tmp_path / "runs")])
    error = one_line_error(capsys)
    assert status == 2 and "wrong shape" in error and "`x_train`" in error and str(bad) in error
    assert not (tmp_path / "runs").exists()


# --- runs directories that cannot be written, and a disk that fills up --------------------------

def test_runs_directory_that_is_a_file_is_refused_with_the_fix(mnist, tmp_path, capsys):
    """A regular file where the runs folder should be: fails for root too, unlike chmod."""
    blocker = tmp_path / "runs"
    blocker.write_text("precious")
    with pytest.raises(RunError, match="is a file, not a folder") as refused:
        RunWriter(TrainConfig(model="mlp"), blocker)
    assert "MNIST_LAB_RUNS_DIR" in str(refused.value)
    with pytest.raises(RunError, match="is a file, not a folder"):
        RecordedRun(TrainConfig(**TINY), runs_dir=blocker, mnist=mnist)
    status = cli_main(["train", "--model", "mlp", "--epochs", "1", "--train-size", "300", "--runs-dir", str(blocker)])
    assert status == 2 and "is a file, not a folder" in one_line_error(capsys)
    assert blocker.read_text() == "precious" and list_runs(blocker) == []


def test_runs_directory_under_a_file_is_refused_with_the_fix(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match=r"Cannot create run folder .*Not a directory.*writable"):
        RunWriter(TrainConfig(model="mlp"), tmp_path / "file" / "runs")


def test_disk_full_while_saving_the_model_fails_the_run_and_keeps_earlier_runs(saved, mnist, tmp_path, monkeypatch):
    import keras

    copy_run(saved, tmp_path, "earlier")
    real_save = keras.Model.save

    def save_half_then_fill_the_disk(self, filepath, *args, **kwargs):
        real_save(self, filepath, *args, **kwargs)
        data = Path(filepath).read_bytes()
        Path(filepath).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))

    monkeypatch.setattr(keras.Model, "save", save_half_then_fill_the_disk)
    run = RecordedRun(TrainConfig(**TINY), runs_dir=tmp_path, name="full", mnist=mnist)
    with pytest.raises(RunError) as refused:
        list(run)
    assert "No space left on device" in str(refused.value) and "Free disk space" in str(refused.value)
    monkeypatch.undo()

    failed = tmp_path / "full"
    # No half-written model: what stays is the record of the finished epoch (its metrics, batch points and checkpoint).
    assert sorted(p.name for p in failed.iterdir()) == sorted([CONFIG_FILE, STATUS_FILE, METRICS_FILE, "batches.jsonl",
                                                               "checkpoints", "logs"])
    assert [p.name for p in (failed / "checkpoints").iterdir()] == ["epoch-0001"]
    status = json.loads((failed / STATUS_FILE).read_text())
    assert status["status"] == FAILED and "No space left on device" in status["reason"]
    runs = {summary.name: summary for summary in list_runs(tmp_path)}
    assert set(runs) == {"earlier", "full"}
    assert runs["full"].status == FAILED and len(runs["full"].epochs) == 1 and not runs["full"].has_model
    assert runs["earlier"].status == COMPLETED and runs["earlier"].problems == []
    assert load_model("earlier", tmp_path).output_shape == (None, 10)
    assert load_predictions("earlier", tmp_path)[1].shape == (10_000, 10)


# --- stops, deletions and concurrent writers --------------------------------------------------

@pytest.fixture(scope="module")
def many_batches(mnist):
    """2,000 images in batches of 5: 400 steps an epoch, so a stop that is ignored shows as epochs."""
    config = TrainConfig(model="mlp", epochs=3, batch_size=5, train_size=2000, validation_size=500)
    return config, make_splits(mnist, config)


def test_numpy_model_stopped_before_the_first_batch_ends_stopped_with_no_epochs(many_batches):
    """The Keras path is covered by the recorded run below, stopped the same way."""
    config, splits = many_batches
    trainer = Trainer(config.replace(model="numpy_logreg", optimizer="sgd", learning_rate=0.1), splits)
    trainer.stop()
    events = list(trainer)
    assert not any(isinstance(event, EpochEnd) for event in events)
    assert isinstance(events[-1], TrainingEnd)
    assert events[-1].status == STOPPED and events[-1].epochs_completed == 0 and trainer.epochs == []


def test_stop_at_the_first_progress_event_ends_stopped_with_no_epochs(many_batches):
    config, splits = many_batches
    trainer = Trainer(config, splits, progress_interval=0)
    events = []
    for event in trainer:
        events.append(event)
        if isinstance(event, Progress):
            trainer.stop()
    assert isinstance(events[0], Progress) and events[0].epoch == 1
    assert events[-1].status == STOPPED and events[-1].epochs_completed == 0
    assert not any(isinstance(event, EpochEnd) for event in events)


def test_recorded_run_stopped_before_training_saves_status_and_no_model(mnist, tmp_path):
    run = RecordedRun(TrainConfig(**{**TINY, "epochs": 5}), runs_dir=tmp_path, name="stopped", mnist=mnist)
    assert run.trainer.batch_size < TINY["train_size"]  # several batches: an ignored stop would show
    run.stop()
    done = list(run)[-1]
    assert done.status == STOPPED and done.epochs_completed == 0 and done.test_accuracy is None
    folder = tmp_path / "stopped"
    assert json.loads((folder / STATUS_FILE).read_text())["status"] == STOPPED
    assert not (folder / MODEL_FILE).exists() and not (folder / PREDICTIONS_FILE).exists()
    [summary] = list_runs(tmp_path)
    assert summary.status == STOPPED and summary.epochs == [] and summary.problems == []


def test_run_deleted_while_a_reader_holds_its_summary(saved, tmp_path):
    copy_run(saved, tmp_path)
    summary = load_run("good", tmp_path)
    delete_run("good", tmp_path)
    with pytest.raises(RunError, match="No run named 'good'.*may have been deleted"):
        load_model("good", tmp_path)
    with pytest.raises(RunError, match="No run named 'good'.*may have been deleted"):
        load_predictions("good", tmp_path)
    with pytest.raises(RunError, match="no saved model"):
        load_model_file(summary.path / MODEL_FILE, "run 'good'")
    with pytest.raises(RunError, match="No run named 'good'"):
        delete_run("good", tmp_path)
    assert list_runs(tmp_path) == [] and not summary.has_model


def test_saved_model_reads_while_another_run_writes_the_runs_directory(saved, mnist, tmp_path):
    copy_run(saved, tmp_path)
    sample = (mnist.x_test[:20].astype(np.float32) / 255.0)[..., None]
    expected = load_model("good", tmp_path)(sample, training=False)
    failures: list[BaseException] = []

    def train_another():
        try:
            list(RecordedRun(TrainConfig(**{**TINY, "epochs": 2}), runs_dir=tmp_path,
                             name="writing", mnist=mnist))
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    writer = threading.Thread(target=train_another)
    writer.start()
    reads = 0
    while writer.is_alive():
        summaries = {summary.name: summary for summary in list_runs(tmp_path)}
        assert summaries["good"].status == COMPLETED and summaries["good"].problems == []
        np.testing.assert_allclose(load_model("good", tmp_path)(sample, training=False), expected, rtol=1e-6)
        if "writing" in summaries and summaries["writing"].has_model:  # os.replace: whole or absent
            load_model("writing", tmp_path)
        reads += 1
    writer.join()
    assert failures == [] and reads >= 1
    assert {summary.name: summary.status for summary in list_runs(tmp_path)} == {"good": COMPLETED, "writing": COMPLETED}
    assert load_model("writing", tmp_path).output_shape == (None, 10)
