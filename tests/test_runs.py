"""Saved runs: what a recorded run writes reads back the same, and names never leave the runs directory."""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.config.train_config import TrainConfig
from core.training.events import COMPLETED, DIVERGED, INTERRUPTED, RUNNING, EpochEnd, RunDone
from core.runs.recorded_run import RecordedRun
from core.runs.run_writer import RunWriter
from core.runs.store import (
    METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE, STATUS_FILE, RunError, delete_run, list_runs, load_model,
    load_predictions, load_run, metrics_csv, process_start_time, run_path,
)
from core.config.train_config import preset_config

ROOT = Path(__file__).resolve().parents[1]


def epoch_records(events) -> list[dict]:
    """Streamed EpochEnds as `metrics.jsonl` stores them (no `event` key)."""
    return [{k: v for k, v in e.to_dict().items() if k != "event"} for e in events if isinstance(e, EpochEnd)]


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture(scope="module")
def recorded(mnist, tmp_path_factory):
    """One finished 2-epoch MLP run, recorded into its own runs directory."""
    runs_dir = tmp_path_factory.mktemp("recorded") / "runs"
    config = preset_config("mlp", epochs=2, train_size=500, validation_size=200, batch_size=50)
    run = RecordedRun(config, runs_dir=runs_dir, name="mlp-small", mnist=mnist)
    events = list(run)
    return config, run, events, runs_dir


def test_recorded_run_reads_back_as_it_was_streamed(recorded):
    config, run, events, runs_dir = recorded
    done = events[-1]
    assert isinstance(done, RunDone) and done.status == COMPLETED and done.epochs_completed == 2
    assert Path(done.run_dir) == runs_dir.resolve() / "mlp-small" and done.name == run.name == "mlp-small"
    [summary] = list_runs(runs_dir)
    assert summary == load_run("mlp-small", runs_dir)
    assert summary.status == COMPLETED and summary.problems == []
    assert summary.config == config.to_dict() and TrainConfig(**summary.config) == config
    assert summary.epochs == epoch_records(events)  # JSON round-trips floats exactly
    assert (summary.test_accuracy, summary.test_loss) == (done.test_accuracy, done.test_loss)
    assert summary.best_val_accuracy == max(e["val_accuracy"] for e in summary.epochs)
    assert summary.seconds == pytest.approx(sum(e["seconds"] for e in summary.epochs))
    assert summary.started <= summary.ended and summary.has_model and summary.has_predictions
    for split in ("train", "validation"):  # TensorBoard event files
        assert list((summary.path / "logs" / split).glob("events.out.tfevents.*"))


def test_saved_model_loads_in_safe_mode_and_predicts_like_the_trained_one(recorded, mnist):
    _, run, events, runs_dir = recorded
    x_test = run.trainer.splits.x_test
    loaded = load_model("mlp-small", runs_dir)
    np.testing.assert_allclose(loaded.predict(x_test[:500], verbose=0),
                               run.trainer.model.predict(x_test[:500], verbose=0), rtol=1e-6, atol=1e-7)
    probabilities = run.trainer.model.predict(x_test, verbose=0)
    assert events[-1].test_accuracy == pytest.approx(np.mean(np.argmax(probabilities, axis=1) == mnist.y_test))


def test_predictions_file_holds_the_test_labels_and_probabilities(recorded, mnist):
    _, run, events, runs_dir = recorded
    y_true, probabilities = load_predictions("mlp-small", runs_dir)
    np.testing.assert_array_equal(y_true, mnist.y_test)
    assert probabilities.dtype == np.float32 and probabilities.shape == (10_000, 10)
    expected = run.trainer.model.predict(run.trainer.splits.x_test, verbose=0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-3)  # stored as float16
    accuracy = np.mean(np.argmax(probabilities, axis=1) == y_true)
    assert accuracy == pytest.approx(events[-1].test_accuracy, abs=1e-3)  # float16 may break a near tie


def test_metrics_csv_has_one_row_per_epoch_with_kerass_names(recorded):
    _, _, events, runs_dir = recorded
    summary = load_run("mlp-small", runs_dir)
    rows = list(csv.DictReader(io.StringIO(metrics_csv(summary))))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds",
                             "samples_per_second"]
    assert [{k: float(v) for k, v in row.items()} for row in rows] == epoch_records(events)


def test_delete_removes_a_finished_run_but_not_a_live_one(recorded, tmp_runs_dir):
    _, _, _, runs_dir = recorded
    shutil.copytree(runs_dir / "mlp-small", tmp_runs_dir / "copy")
    live = tmp_runs_dir / "live"
    live.mkdir()
    (live / STATUS_FILE).write_text(json.dumps(
        {"status": RUNNING, "pid": os.getpid(), "pid_started": process_start_time(os.getpid()), "started": 1.0}))
    assert {r.name: r.status for r in list_runs()} == {"copy": COMPLETED, "live": RUNNING}
    with pytest.raises(RunError, match="still training"):
        delete_run("live")
    delete_run("copy")
    assert not (tmp_runs_dir / "copy").exists() and [r.name for r in list_runs()] == ["live"]
    with pytest.raises(RunError, match="No run named 'copy'"):
        load_run("copy")


def test_missing_or_corrupt_files_raise_run_errors(recorded, tmp_runs_dir):
    _, _, _, runs_dir = recorded
    shutil.copytree(runs_dir / "mlp-small", tmp_runs_dir / "damaged")
    (tmp_runs_dir / "damaged" / MODEL_FILE).write_bytes(b"PK\x03\x04 not a keras archive")
    (tmp_runs_dir / "damaged" / PREDICTIONS_FILE).write_bytes(b"garbage")
    with pytest.raises(RunError, match="corrupt or unsafe"):
        load_model("damaged")
    with pytest.raises(RunError, match="corrupt"):
        load_predictions("damaged")
    (tmp_runs_dir / "damaged" / MODEL_FILE).unlink()
    (tmp_runs_dir / "damaged" / PREDICTIONS_FILE).unlink()
    with pytest.raises(RunError, match="no saved model"):
        load_model("damaged")
    with pytest.raises(RunError, match="no test predictions"):
        load_predictions("damaged")


def test_diverged_run_keeps_its_finished_epochs_and_saves_no_model(mnist, tmp_runs_dir):
    # A linear MLP whose one-cycle learning rate climbs past stability: finite for 3 epochs, NaN in the 4th.
    config = preset_config("mlp", epochs=20, train_size=500, validation_size=100, batch_size=50,
                           activation="linear", schedule="one_cycle", learning_rate=0.05)
    run = RecordedRun(config, mnist=mnist)
    events = list(run)
    done = events[-1]
    assert done.status == DIVERGED and "lower the learning rate" in done.reason
    assert done.test_accuracy is None and done.test_loss is None
    finished = epoch_records(events)
    assert 1 <= len(finished) == done.epochs_completed < config.epochs
    assert all(np.isfinite(e["loss"]) for e in finished)
    [summary] = list_runs()
    assert summary.status == DIVERGED and summary.reason == done.reason
    np.testing.assert_equal(summary.epochs, finished)  # NaN equals NaN here: the last val_loss may be NaN
    assert not summary.has_model and not summary.has_predictions
    with pytest.raises(RunError, match="no saved model"):
        load_model(summary.name)


BAD_NAMES = ["../../x", "../escaped", "/etc", "/tmp/elsewhere", "a/b", ".", "..", "", "x" * 81, "a\n", ".hidden",
             "-rf", "a..b", "a\\b", "two words", "ünï"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_run_name_is_refused_and_creates_nothing(tmp_path, name):
    root = tmp_path / "lab" / "runs"
    root.mkdir(parents=True)
    (tmp_path / "lab" / "x").mkdir()  # a folder a traversal could reach
    before = tree(tmp_path)
    with pytest.raises(RunError, match="Invalid run name"):
        run_path(root, name)
    with pytest.raises(RunError, match="Invalid run name"):
        RunWriter(TrainConfig(model="mlp"), root, name)
    for reader in (load_run, load_model, load_predictions, delete_run):
        with pytest.raises(RunError, match="Invalid run name"):
            reader(name, root)
    assert tree(tmp_path) == before


def test_longest_valid_name_stays_directly_inside_the_runs_directory(tmp_runs_dir):
    writer = RunWriter(TrainConfig(model="mlp"), None, "x" * 80)
    assert writer.path.parent == tmp_runs_dir.resolve() and writer.path.is_dir()
    with pytest.raises(RunError, match="already exists"):
        RunWriter(TrainConfig(model="mlp"), None, "x" * 80)


def test_symlink_in_the_runs_directory_is_not_followed(recorded, tmp_path, tmp_runs_dir):
    _, _, _, runs_dir = recorded
    outside = tmp_path / "outside-run"
    shutil.copytree(runs_dir / "mlp-small", outside)
    (tmp_runs_dir / "linked").symlink_to(outside, target_is_directory=True)
    assert list_runs() == []
    with pytest.raises(RunError):
        load_run("linked")
    with pytest.raises(RunError):
        delete_run("linked")
    with pytest.raises(RunError):
        load_model("linked")
    assert (outside / MODEL_FILE).is_file()


def test_run_killed_mid_way_reads_back_as_interrupted_with_its_finished_epochs(tmp_runs_dir):
    command = [sys.executable, "-m", "core", "train", "--model", "mlp", "--epochs", "60", "--train-size", "2000",
               "--validation-size", "200", "--json", "--name", "killed"]
    with open(tmp_runs_dir.parent / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            for line in process.stdout:
                if json.loads(line).get("event") == "epoch":
                    first_epoch = json.loads(line)
                    break
            else:
                pytest.fail(f"no epoch line; stderr: {(tmp_runs_dir.parent / 'stderr.txt').read_text()[-2000:]}")
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()  # reaped: a zombie would still look alive in /proc
    [summary] = list_runs()
    assert summary.name == "killed" and summary.status == INTERRUPTED, summary
    assert "process ended" in summary.reason
    assert 1 <= len(summary.epochs) < 60
    first_epoch.pop("event")
    assert summary.epochs[0] == first_epoch
    assert not summary.has_model and summary.problems == []

    # A process killed in the middle of appending leaves a torn last line: it is skipped and reported.
    with open(summary.path / METRICS_FILE, "a") as metrics:
        metrics.write('{"epoch": 61, "loss": 0.12')
    [again] = list_runs()
    assert again.epochs == summary.epochs and again.status == INTERRUPTED
    assert again.problems == [f"{METRICS_FILE} line {len(summary.epochs) + 1} is corrupt and was skipped"]
