"""The training-health line: exploding loss, not learning, overfitting; and a healthy run says nothing."""

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from core.training.events import EpochEnd
from core.training.training_health import training_health

ROOT = Path(__file__).resolve().parents[1]


def epochs(*rows):
    """EpochEnds from (loss, accuracy, val_loss) rows, at learning rate 0.1."""
    return [EpochEnd(i, loss, acc, val, None if val is None else 0.9, 0.1, 1.0, 1000.0)
            for i, (loss, acc, val) in enumerate(rows, start=1)]


def test_a_healthy_run_says_nothing():
    assert training_health([]) is None
    assert training_health(epochs((0.5, 0.85, 0.4), (0.3, 0.91, 0.3), (0.25, 0.93, 0.28))) is None
    assert training_health(epochs((0.5, 0.85, None), (0.3, 0.91, None))) is None  # no validation: no overfitting call


def test_an_exploding_loss_says_to_lower_the_learning_rate():
    health = training_health(epochs((2.0, 0.5, 2.0), (340.0, 0.1, 400.0)))
    assert health.kind == "exploding" and "340" in health.message and "Try a tenth" in health.message
    assert "up from 2 at epoch 1" in health.message
    assert training_health(epochs((math.nan, 0.1, None))).kind == "exploding"
    assert training_health(epochs((40.0, 0.5, None), (math.inf, 0.1, None))).kind == "exploding"
    # rising from a huge start is exploding too, once it has tripled its lowest
    assert training_health(epochs((3000.0, 0.3, None), (900.0, 0.5, None), (2800.0, 0.4, None))).kind == "exploding"


def test_the_softmax_presets_huge_but_falling_loss_is_never_called_exploding_nor_not_learning():
    """The real curve of the tutorial's own preset: 3,667 at epoch 1, ~150 at epoch 150, bumps of up to 1.4x."""
    curve = json.loads((ROOT / "tests" / "softmax_preset_curve.json").read_text())
    real = [EpochEnd(i, loss, acc, val, None, curve["learning_rate"], 1.0, 1000.0)
            for i, (loss, acc, val) in enumerate(curve["epochs"], start=1)]
    assert real[0].loss > 3000 and real[-1].loss < 200 and max(e.loss for e in real[1:]) > 10 * 2.3
    assert [training_health(real[:end]) for end in range(1, len(real) + 1)] == [None] * len(real)
    # the same curve, gone wrong at its end: tripled and NaN are still warned
    assert training_health(real + [dataclasses.replace(real[-1], epoch=151, loss=600.0)]).kind == "exploding"
    assert training_health(real + [dataclasses.replace(real[-1], epoch=151, loss=math.nan)]).kind == "exploding"


def test_accuracy_near_chance_after_an_epoch_is_not_learning():
    assert training_health(epochs((2.3, 0.11, 2.3))) is None  # one epoch (of a small subset) may not have moved yet
    health = training_health(epochs((2.3, 0.11, 2.3), (2.3, 0.11, 2.3)))
    assert health.kind == "not_learning" and "11%" in health.message and "usual range" in health.message
    assert training_health(epochs((2.3, 0.11, 2.3), (2.3, 0.12, 2.3), (2.3, 0.125, 2.3))).kind == "not_learning"
    # still low, but climbing by points an epoch (the softmax preset's second epoch: 6% -> 20%): learning
    assert training_health(epochs((3667.0, 0.063, None), (2430.0, 0.196, None))) is None


def test_validation_loss_rising_while_training_loss_falls_is_overfitting():
    rising = epochs((0.5, 0.9, 0.30), (0.4, 0.92, 0.31), (0.3, 0.94, 0.33), (0.2, 0.96, 0.36))
    health = training_health(rising)
    assert health.kind == "overfitting" and "3 epochs" in health.message and "patience" in health.message
    assert training_health(rising[:3]) is None  # two rises are not yet a trend


def test_the_cli_warns_of_a_real_training_that_goes_nowhere(tmp_runs_dir):
    # SGD at a learning rate of 10 (the most allowed) on real MNIST: the loss explodes (or accuracy sits at chance).
    command = [sys.executable, "-m", "core", "train", "--model", "mlp", "--epochs", "2", "--train-size", "600",
               "--validation-size", "200", "--learning-rate", "10", "--patience", "0", "--json",
               "--runs-dir", str(tmp_runs_dir)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    warnings = [e for e in events if e["event"] == "health"]
    assert warnings and warnings[0]["kind"] in ("exploding", "not_learning"), events[-3:]
    assert len({w["kind"] for w in warnings}) == len(warnings)  # each problem said once
    first_epoch = next(i for i, e in enumerate(events) if e["event"] == "epoch")
    assert events.index(warnings[0]) > first_epoch  # said after the epoch that showed it
