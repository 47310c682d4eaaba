"""Checkpoints: one per epoch, read back without TensorFlow, kept within the run's disk budget, the best epoch kept."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.config.train_config import ConfigError, preset_config
from core.data.splits import to_model_input
from core.runs.checkpoints import (
    CHECKPOINTS_DIR, KERAS_STATE_FILE, MEGABYTE, budget_note, checkpoint_interval, checkpoint_path, folder_bytes,
    kept_epochs, list_checkpoints, load_checkpoint_numpy_model, load_checkpoint_predictions, load_keras_state,
    same_weights,
)
from core.runs.recorded_run import RecordedRun
from core.runs.run_table import run_row
from core.runs.store import RunError, delete_run, list_runs, load_predictions, load_run
from core.training.events import EpochEnd

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpointed(mnist, tmp_path_factory):
    """A 4-epoch MLP run with a checkpoint per epoch, each epoch's test predictions taken as training went."""
    runs_dir = tmp_path_factory.mktemp("checkpointed") / "runs"
    config = preset_config("mlp", epochs=4, train_size=600, validation_size=200, batch_size=50, learning_rate=0.5,
                           optimizer="sgd", patience=0)
    run = RecordedRun(config, runs_dir=runs_dir, name="mlp-ckpt", mnist=mnist)
    x_test = to_model_input(mnist.x_test)
    seen = {}  # epoch -> the probabilities the model gave at that epoch's end, taken in the training thread
    write = run.checkpoints.write

    def write_and_remember(epoch, model, val_loss, state=None):
        seen[epoch] = model.predict(x_test, verbose=0, batch_size=1000)
        return write(epoch, model, val_loss, state)

    run.checkpoints.write = write_and_remember
    events = list(run)
    return runs_dir, run, events, seen


def test_each_epoch_has_a_checkpoint_in_its_own_folder(checkpointed):
    runs_dir, run, events, _ = checkpointed
    assert list_checkpoints(runs_dir, "mlp-ckpt") == [1, 2, 3, 4]
    folder = checkpoint_path(runs_dir, "mlp-ckpt", 3)
    assert folder == runs_dir.resolve() / "mlp-ckpt" / CHECKPOINTS_DIR / "epoch-0003"
    assert sorted(p.name for p in folder.iterdir()) == [KERAS_STATE_FILE, "model.numpy.npz", "predictions.npz",
                                                        "training_state.json"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_epoch_k_checkpoint_gives_the_predictions_epoch_k_model_gave(checkpointed, mnist):
    runs_dir, _, _, seen = checkpointed
    x_test = to_model_input(mnist.x_test)
    for epoch in (1, 2, 3, 4):
        y_true, probabilities = load_checkpoint_predictions(runs_dir, "mlp-ckpt", epoch)
        assert np.array_equal(y_true, mnist.y_test)
        np.testing.assert_allclose(probabilities, seen[epoch], atol=2e-3)  # float16 storage
        from_numpy = load_checkpoint_numpy_model(runs_dir, "mlp-ckpt", epoch).predict(x_test)
        np.testing.assert_allclose(from_numpy, seen[epoch], atol=1e-4)
    # the epochs differ: each checkpoint is its own epoch's, not the last one's
    assert not np.allclose(seen[1], seen[4], atol=1e-2)


def test_keras_state_restores_the_epochs_model(checkpointed, mnist):
    runs_dir, run, _, seen = checkpointed
    weights, optimizer = load_keras_state(runs_dir, "mlp-ckpt", 2)
    model = run.trainer.model
    model.set_weights(weights)
    np.testing.assert_allclose(model.predict(to_model_input(mnist.x_test), verbose=0), seen[2], atol=1e-5)
    assert optimizer[0][0] == "iteration" and int(optimizer[0][1]) == 2 * 12  # the step counter: 2 epochs of 600/50 steps


def test_keep_best_epoch_makes_the_best_epochs_model_the_runs(checkpointed):
    runs_dir, _, events, seen = checkpointed
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    best = min(epochs, key=lambda e: e.val_loss).epoch
    summary = load_run("mlp-ckpt", runs_dir)
    assert summary.best_epoch == summary.model_epoch == best
    y_true, probabilities = load_predictions("mlp-ckpt", runs_dir)
    np.testing.assert_allclose(probabilities, seen[best], atol=2e-3)
    assert summary.test_accuracy == pytest.approx(float(np.mean(seen[best].argmax(1) == y_true)), abs=2e-4)


def test_keep_best_epoch_off_keeps_the_last(mnist, tmp_path):
    config = preset_config("mlp", epochs=2, train_size=300, validation_size=100, batch_size=50, keep_best_epoch=False,
                           checkpoint_budget_mb=0)
    run = RecordedRun(config, runs_dir=tmp_path, name="last", mnist=mnist)
    list(run)
    summary = load_run("last", tmp_path)
    assert summary.model_epoch == 2 and summary.best_epoch in (1, 2)  # the last epoch's model, whichever was best
    assert list_checkpoints(tmp_path, "last") == []  # budget 0: no checkpoints


def test_interval_and_kept_epochs():
    assert checkpoint_interval(50 * MEGABYTE, 1 * MEGABYTE, 30) == 1
    assert checkpoint_interval(10 * MEGABYTE, 1 * MEGABYTE, 30) == 5  # 30 / (10 - 3) → every 5th
    assert checkpoint_interval(3 * MEGABYTE, 1 * MEGABYTE, 30) == 0
    assert kept_epochs(list(range(1, 31)), 7, 5) == {1, 5, 7, 10, 15, 20, 25, 30}
    assert kept_epochs(list(range(1, 12)), None, 0) == {1, 11}
    assert kept_epochs([], 3, 2) == set()
    assert budget_note(50, 1, 10) == "keeps every epoch's checkpoint: ~10 MB (1 MB each)"
    assert budget_note(10, 1, 30).startswith("keeps every 5th epoch plus the first, best and last: ~")
    assert budget_note(0, 1, 30).startswith("no checkpoints")
    # cnn_deep: one checkpoint is over the default budget, and first, best and last are kept anyway: said, with the size
    assert budget_note(50, 52.6, 25) == ("keeps the first, best and last epochs only: ~158 MB (53 MB each), over the "
                                         "50 MB budget (one checkpoint alone is larger; a budget of 0 keeps none)")
    assert budget_note(50, 20, 25).endswith("~60 MB (20 MB each), over the 50 MB budget (these are always kept; "
                                            "a budget of 0 keeps none)")


def test_budget_is_kept_and_first_best_last_survive(mnist, tmp_path):
    config = preset_config("mlp", epochs=8, train_size=300, validation_size=100, batch_size=50, learning_rate=0.5,
                           optimizer="sgd")
    probe = RecordedRun(config.replace(epochs=1), runs_dir=tmp_path, name="probe", mnist=mnist)
    list(probe)
    one = folder_bytes(checkpoint_path(tmp_path, "probe", 1))
    budget_mb = 5.5 * one / MEGABYTE  # room for 5 checkpoints: first, best, last and every k-th
    run = RecordedRun(config.replace(checkpoint_budget_mb=budget_mb), runs_dir=tmp_path, name="tight", mnist=mnist)
    events = list(run)
    kept = list_checkpoints(tmp_path, "tight")
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    best = min(epochs, key=lambda e: e.val_loss).epoch
    assert folder_bytes(tmp_path / "tight" / CHECKPOINTS_DIR) <= budget_mb * MEGABYTE
    assert {1, best, 8} <= set(kept) and len(kept) < 8
    assert set(kept) <= {1, best, 8} | {e for e in range(1, 9) if e % run.checkpoints.interval == 0}


def test_deleting_a_run_frees_its_checkpoints(mnist, tmp_path):
    run = RecordedRun(preset_config("mlp", epochs=1, train_size=200, validation_size=100, batch_size=50),
                      runs_dir=tmp_path, name="gone", mnist=mnist)
    list(run)
    assert list_checkpoints(tmp_path, "gone") == [1]
    delete_run("gone", tmp_path)
    assert not (tmp_path / "gone").exists() and list_runs(tmp_path) == []


def test_missing_checkpoints_are_named_with_the_fix(checkpointed, tmp_path):
    runs_dir = checkpointed[0]
    with pytest.raises(RunError, match=r"no checkpoint at epoch 9 \(kept: 1, 2, 3, 4\)\. Pick a kept epoch"):
        load_checkpoint_numpy_model(runs_dir, "mlp-ckpt", 9)
    with pytest.raises(RunError, match="invalid value for `epoch`"):
        checkpoint_path(runs_dir, "mlp-ckpt", 0)
    with pytest.raises(RunError, match="Invalid run name"):
        list_checkpoints(runs_dir, "../mlp-ckpt")
    (tmp_path / "old").mkdir()
    assert list_checkpoints(tmp_path, "old") == []


def test_a_half_written_checkpoint_is_never_listed(checkpointed):
    runs_dir = checkpointed[0]
    folder = runs_dir / "mlp-ckpt" / CHECKPOINTS_DIR
    (folder / ".epoch-0005.tmp-abc123").mkdir()  # what a crash mid-write leaves
    try:
        assert list_checkpoints(runs_dir, "mlp-ckpt") == [1, 2, 3, 4]
    finally:
        (folder / ".epoch-0005.tmp-abc123").rmdir()


def test_test_predictions_are_made_at_the_end_for_the_kept_epochs_only(mnist, tmp_path):
    """No pass over the test set while training; at the end one per kept epoch, the ending's own reused for its
    model's epoch, none for an epoch the budget dropped."""
    config = preset_config("mlp", epochs=5, train_size=300, validation_size=100, batch_size=50, keep_best_epoch=False,
                           learning_rate=0.5, optimizer="sgd")
    probe = RecordedRun(config.replace(epochs=1), runs_dir=tmp_path, name="probe", mnist=mnist)
    list(probe)
    one = folder_bytes(checkpoint_path(tmp_path, "probe", 1))
    run = RecordedRun(config.replace(checkpoint_budget_mb=3.5 * one / MEGABYTE), runs_dir=tmp_path, name="kept",
                      mnist=mnist)
    epochs_seen, predicted = [], []  # at each pass over the test set: the epochs streamed so far
    predict = run.checkpoints.predict

    def predict_and_note(model):
        predicted.append(len(epochs_seen))
        return predict(model)

    run.checkpoints.predict = predict_and_note
    for event in run:
        if isinstance(event, EpochEnd):
            epochs_seen.append(event.epoch)
    kept = list_checkpoints(tmp_path, "kept")
    assert epochs_seen == [1, 2, 3, 4, 5] and 5 in kept and len(kept) < 5  # the budget dropped some
    assert predicted == [5] * (len(kept) - 1)  # after the last epoch; the last one's are the ending's
    y_true, ending = load_predictions("kept", tmp_path)
    np.testing.assert_array_equal(load_checkpoint_predictions(tmp_path, "kept", 5)[1], ending)
    x_test = to_model_input(mnist.x_test)
    for epoch in kept:  # each kept epoch's are its own model's: predicted from its checkpoint's weights
        model = load_checkpoint_numpy_model(tmp_path, "kept", epoch)
        np.testing.assert_allclose(load_checkpoint_predictions(tmp_path, "kept", epoch)[1], model.predict(x_test), atol=2e-3)
    assert folder_bytes(tmp_path / "kept" / CHECKPOINTS_DIR) <= 3.5 * one  # the predictions counted in the budget


def test_same_weights_means_exactly_equal():
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)]
    assert same_weights(weights, [w.copy() for w in weights])
    changed = [w.copy() for w in weights]
    changed[1][2] = np.nextafter(np.float32(1), np.float32(2))  # one ulp off
    assert not same_weights(weights, changed) and not same_weights(weights, weights[:1])


def test_a_checkpoint_that_cannot_be_written_fails_the_run_naming_the_problem(mnist, tmp_path):
    """Checkpoints are written while the next epoch trains: a write that fails still fails the run, with the fix."""
    config = preset_config("mlp", epochs=2, train_size=200, validation_size=100, batch_size=50)
    run = RecordedRun(config, runs_dir=tmp_path, name="blocked", mnist=mnist)
    (tmp_path / "blocked" / CHECKPOINTS_DIR).write_text("a file where the checkpoints folder goes")
    with pytest.raises(RunError, match=r"could not be written .*Free disk space or make the runs directory writable"):
        list(run)
    assert load_run("blocked", tmp_path).status == "failed"


def test_budget_is_validated_like_every_field():
    with pytest.raises(ConfigError, match="checkpoint_budget_mb"):
        preset_config("mlp", checkpoint_budget_mb=-1)


def test_cli_lists_one_line_per_kept_checkpoint(checkpointed):
    runs_dir = checkpointed[0]
    command = [sys.executable, "-m", "core", "runs", "--runs-dir", str(runs_dir), "--checkpoints", "mlp-ckpt"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines] == ["1", "2", "3", "4"]
    best = load_run("mlp-ckpt", runs_dir).best_epoch
    assert "best" in lines[best - 1] and all("best" not in line for i, line in enumerate(lines) if i != best - 1)
    as_json = subprocess.run(command + ["--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert [json.loads(line)["epoch"] for line in as_json.stdout.splitlines()] == [1, 2, 3, 4]
    missing = subprocess.run(command[:-1] + ["nope"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "No run named 'nope'" in missing.stderr


# ---- fork: a new run from any kept checkpoint ----

def fork_config(**changes):
    return preset_config("mlp", **{"epochs": 3, "train_size": 600, "validation_size": 200, "batch_size": 50, **changes})


@pytest.fixture(scope="module")
def parent_run(mnist, tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("forks") / "runs"
    events = list(RecordedRun(fork_config(), runs_dir=runs_dir, name="parent", mnist=mnist))
    return runs_dir, [e for e in events if isinstance(e, EpochEnd)]


def test_a_fork_with_nothing_changed_reproduces_the_parents_next_epochs(parent_run, mnist):
    runs_dir, parent_epochs = parent_run
    run = RecordedRun(fork_config(epochs=2), runs_dir=runs_dir, name="same", mnist=mnist, fork_from=("parent", 1))
    epochs = [e for e in run if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [2, 3]  # numbered on from the parent's epoch: x axis = total epochs
    for fork, parent in zip(epochs, parent_epochs[1:]):
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert getattr(fork, metric) == pytest.approx(getattr(parent, metric), rel=1e-5, abs=1e-6), (fork.epoch, metric)
    summary = load_run("same", runs_dir)
    assert summary.parent == {"run": "parent", "epoch": 1} and list_checkpoints(runs_dir, "same") == [2, 3]
    assert run_row(summary)["parent"] == "parent @ epoch 1" and run_row(load_run("parent", runs_dir))["parent"] is None


def test_a_fork_with_a_new_learning_rate_records_it_and_its_parent(parent_run, mnist):
    runs_dir, parent_epochs = parent_run
    run = RecordedRun(fork_config(epochs=1, learning_rate=0.5), runs_dir=runs_dir, name="faster", mnist=mnist,
                      fork_from=("parent", 2))
    [epoch] = [e for e in run if isinstance(e, EpochEnd)]
    summary = load_run("faster", runs_dir)
    assert epoch.epoch == 3 and epoch.learning_rate == pytest.approx(0.5)
    assert summary.config["learning_rate"] == 0.5 and summary.parent == {"run": "parent", "epoch": 2}
    assert epoch.loss != pytest.approx(parent_epochs[2].loss, rel=1e-3)  # it went its own way


def test_a_fork_must_keep_the_architecture_and_name_a_kept_checkpoint(parent_run, mnist):
    runs_dir, _ = parent_run
    with pytest.raises(ConfigError, match=r"keeps its parent's architecture: .*`hidden_units`"):
        RecordedRun(fork_config(hidden_units=32), runs_dir=runs_dir, name="wider", mnist=mnist, fork_from=("parent", 1))
    with pytest.raises(RunError, match="no checkpoint at epoch 7"):
        RecordedRun(fork_config(), runs_dir=runs_dir, name="later", mnist=mnist, fork_from=("parent", 7))
    assert not (runs_dir / "wider").exists() and not (runs_dir / "later").exists()  # refused before any folder


def test_a_fork_reproduces_its_parent_where_keras_trains_several_batches_a_call(mnist, tmp_path):
    """94 batches an epoch, 4 a call into TensorFlow: the epochs must still split where the parent's did."""
    config = preset_config("mlp", epochs=2, train_size=3008, validation_size=8, batch_size=32, checkpoint_budget_mb=5)
    parent = [e for e in RecordedRun(config, runs_dir=tmp_path, name="p", mnist=mnist) if isinstance(e, EpochEnd)]
    fork = [e for e in RecordedRun(config.replace(epochs=1), runs_dir=tmp_path, name="f", mnist=mnist, fork_from=("p", 1))
            if isinstance(e, EpochEnd)]
    assert fork[0].epoch == 2
    assert fork[0].loss == pytest.approx(parent[1].loss, rel=1e-5) and fork[0].val_loss == pytest.approx(parent[1].val_loss, rel=1e-5)


def test_cli_forks_a_run_from_a_kept_epoch_on_a_local_worker(parent_run):
    runs_dir, parent_epochs = parent_run
    command = [sys.executable, "-m", "core", "train", "--fork", "parent:1", "--epochs", "1", "--learning-rate", "0.05",
               "--name", "cli-fork", "--runs-dir", str(runs_dir), "--json"]
    bad_forks = (("parent:9", "no checkpoint at epoch 9"), ("parent", "--fork takes RUN:EPOCH"), ("nope:1", "No run named 'nope'"))
    # All at once: the refusals come before any worker starts, while the good fork's worker imports TensorFlow.
    started = [subprocess.Popen(arguments, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for arguments in [command] + [command[:5] + [bad] + ["--runs-dir", str(runs_dir)] for bad, _ in bad_forks]]
    (stdout, stderr), *refusals = [process.communicate(timeout=600) for process in started]
    assert started[0].returncode == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["epoch"] for line in lines if line["event"] == "epoch"] == [2]
    assert lines[-1]["event"] == "done" and lines[-1]["name"] == "cli-fork"
    summary = load_run("cli-fork", runs_dir)
    assert summary.parent == {"run": "parent", "epoch": 1} and summary.config["learning_rate"] == 0.05
    assert summary.config["train_size"] == 600  # the parent's settings, but for the flags given
    for process, (_, refused_stderr), (_, message) in zip(started[1:], refusals, bad_forks):
        assert process.returncode == 2 and message in refused_stderr and refused_stderr.count("\n") == 1, refused_stderr
