"""`python -m core`: JSON lines while training, a runs listing, and one-line errors with exit status 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.runs.store import load_predictions

ROOT = Path(__file__).resolve().parents[1]
EPOCH_KEYS = {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds", "samples_per_second"}


def cli(*args, env=None, **popen):
    """Start `python -m core ARGS` from the repository root (its cwd puts `core` on the path)."""
    return subprocess.Popen([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, **popen)


def finish(process, timeout=300):
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


TRAININGS = {  # case → `python -m core train` flags (with `--json`, each into a runs directory of its own)
    "tiny": ["--model", "mlp", "--epochs", 1, "--train-size", 500],
    "batch_points": ["--model", "mlp", "--epochs", 2, "--train-size", 2000, "--batch-size", 20, "--validation-size", 500],
    "short_epoch": ["--model", "fast", "--train-size", 6000],
}


@pytest.fixture(scope="module")
def trainings(tmp_path_factory):
    """Every training of `TRAININGS`, started at once (each CLI waits seconds on its worker's TensorFlow import,
    mostly on one core: one after another they took three times that), keyed by case: `(runs_dir, code, stdout,
    stderr)`. What each test asserts is the order and content of one CLI's output, never its speed."""
    root = tmp_path_factory.mktemp("cli")
    started = {case: cli("train", *flags, "--json", "--runs-dir", root / case / "runs") for case, flags in TRAININGS.items()}
    return {case: (root / case / "runs", *finish(process)) for case, process in started.items()}


@pytest.fixture(scope="module")
def trained(trainings):
    """`python -m core train --model mlp --epochs 1 --train-size 500 --json` into a fresh runs directory."""
    runs_dir, code, stdout, stderr = trainings["tiny"]
    assert code == 0, stderr[-3000:]
    return runs_dir, [json.loads(line) for line in stdout.splitlines()]


def test_train_json_prints_one_line_per_epoch_then_done(trained):
    runs_dir, lines = trained
    events = [line["event"] for line in lines]
    # The epoch's batch-level points come first (at least 20 an epoch where it has the batches), then one line
    # for the epoch, then done.
    assert events[-2:] == ["epoch", "done"] and set(events[:-2]) <= {"batch"}, events
    epoch, done = lines[-2:]
    assert EPOCH_KEYS <= set(epoch) and epoch["epoch"] == 1
    assert 0.0 <= epoch["accuracy"] <= 1.0 and 0.0 <= epoch["val_accuracy"] <= 1.0
    assert epoch["learning_rate"] == pytest.approx(0.1)  # the preset's, as float32
    assert done["status"] == "completed" and done["epochs_completed"] == 1
    run_dir = Path(done["run_dir"])
    assert run_dir.parent == runs_dir.resolve() and run_dir.name == done["name"]
    saved = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert saved == [{k: v for k, v in epoch.items() if k != "event"}]
    assert json.loads((run_dir / "config.json").read_text())["train_size"] == 500
    y_true, probabilities = load_predictions(done["name"], runs_dir)
    assert done["test_accuracy"] == pytest.approx(np.mean(probabilities.argmax(axis=1) == y_true), abs=1e-3)


BATCH_KEYS = {"event", "epoch", "fraction", "loss", "accuracy", "seconds", "samples", "step", "learning_rate"}


def test_train_json_prints_batch_points_before_each_epoch(trainings):
    """100 batches of 20 an epoch, 4 a call into TensorFlow (at least 21 calls an epoch): each epoch's first
    call always reports, and at least 20 calls in all.

    (The tiny run above trains its 5 batches in one call, so it has no batch lines.)"""
    _, code, stdout, stderr = trainings["batch_points"]
    assert code == 0, stderr[-3000:]
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["event"] for line in lines if line["event"] != "batch"] == ["epoch", "epoch", "done"]
    epoch_index = [i for i, line in enumerate(lines) if line["event"] == "epoch"]
    for number, end in zip((1, 2), epoch_index):
        start = 0 if number == 1 else epoch_index[0] + 1
        batches = [line for line in lines[start:end] if line["event"] == "batch"]
        assert batches and all(set(b) == BATCH_KEYS and b["epoch"] == number for b in batches)
        assert batches[0]["step"] == 100 * (number - 1) + 4 and batches[0]["fraction"] == pytest.approx(0.04)
        assert len(batches) >= 20 and [b["step"] for b in batches] == sorted({b["step"] for b in batches})
        assert all(0 < b["fraction"] < 1 and b["samples"] > 0 and b["learning_rate"] == pytest.approx(0.1) for b in batches)
    saved = (Path(lines[-1]["run_dir"]) / "batches.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in saved] == [line for line in lines if line["event"] == "batch"]


def test_train_json_prints_at_least_20_batch_points_in_a_short_epoch(trainings):
    """`fast` on 6,000 images: one epoch of 47 batches, a second or two; its curve still gets 20 points."""
    _, code, stdout, stderr = trainings["short_epoch"]
    assert code == 0, stderr[-3000:]
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["event"] for line in lines if line["event"] != "batch"] == ["epoch", "done"]
    epoch_at = next(i for i, line in enumerate(lines) if line["event"] == "epoch")
    batches = lines[:epoch_at]
    assert len(batches) >= 20 and all(b["event"] == "batch" and set(b) == BATCH_KEYS for b in batches)
    fractions = [b["fraction"] for b in batches]
    assert fractions == sorted(set(fractions)) and 0 < fractions[0] and fractions[-1] < 1


def test_runs_lists_the_saved_run(trained):
    runs_dir, lines = trained
    done = lines[-1]
    code, stdout, stderr = finish(cli("runs", "--runs-dir", runs_dir), timeout=120)
    assert code == 0, stderr
    header, row = stdout.splitlines()
    assert header.split()[:3] == ["name", "model", "status"]
    assert row.split()[:4] == [done["name"], "mlp", "completed", "1"]
    code, stdout, _ = finish(cli("runs", "--runs-dir", runs_dir, "--json"), timeout=120)
    [listed] = [json.loads(line) for line in stdout.splitlines()]
    assert code == 0 and listed["name"] == done["name"] and listed["test_accuracy"] == done["test_accuracy"]


def test_runs_in_an_empty_directory(tmp_path):
    code, stdout, _ = finish(cli("runs", "--runs-dir", tmp_path / "none"), timeout=120)
    assert code == 0 and stdout.strip() == "no saved runs"


BAD_INPUTS = {
    "epochs_zero": (["--model", "mlp", "--epochs", 0], "`epochs`"),
    "unknown_model": (["--model", "resnet"], "Unknown model 'resnet'"),
    "learning_rate_not_a_number": (["--model", "mlp", "--learning-rate", "abc"], "`learning_rate`, expected a number"),
    "batch_larger_than_subset": (["--model", "mlp", "--batch-size", 600, "--train-size", 500], "`batch_size`=600"),
    "bad_run_name": (["--model", "mlp", "--epochs", 1, "--train-size", 500, "--name", "../escape"], "Invalid run name"),
    "missing_mnist_file": (["--model", "mlp", "--mnist-path", "{tmp}/missing/mnist.npz"], "{tmp}/missing/mnist.npz"),
    "unknown_flag": (["--model", "mlp", "--bogus", 1], "unrecognized arguments: --bogus"),
    "missing_model": (["--epochs", 1], "--model"),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """Every bad command line, started at once (none imports TensorFlow), keyed by case."""
    tmp = tmp_path_factory.mktemp("bad")
    started = {}
    for case, (args, _) in BAD_INPUTS.items():
        args = [str(a).replace("{tmp}", str(tmp)) for a in args]
        started[case] = cli("train", *args, "--runs-dir", tmp / "runs")
    return tmp, {case: finish(process, timeout=120) for case, process in started.items()}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line_and_no_traceback(bad_runs, case):
    tmp, results = bad_runs
    code, stdout, stderr = results[case]
    expected = BAD_INPUTS[case][1].replace("{tmp}", str(tmp))
    assert code == 2, stderr
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith("error: ") and expected in stderr, stderr
    assert stdout == ""
    assert not (tmp / "runs").exists() or not any((tmp / "runs").iterdir())  # no run folder was made
