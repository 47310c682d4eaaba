"""Epoch-time estimates: image counts as the splits cut them, baselines, and calibration by saved runs."""

import math
from pathlib import Path

import pytest

from core.config.train_config import TrainConfig
from core.training.epoch_estimate import (
    BASELINE, BASELINES, FLOPS_PER_SECOND, MEASURED, baseline_seconds, estimate_epoch, run_seconds, scaled_cost, split_sizes,
)
from core.models.model_size import training_flops
from core.runs.store import RunSummary
from core.data.splits import make_splits
from core.config.train_form import build_config, default_values
from core.config.zoo import MODEL_NAMES


def config_of(model, **changes):
    return build_config(default_values(model) | changes)


def saved_run(config: TrainConfig, epoch_seconds, name="run") -> RunSummary:
    epochs = [{"epoch": i, "loss": 0.1, "accuracy": 0.9, "seconds": s} for i, s in enumerate(epoch_seconds, start=1)]
    return RunSummary(name=name, path=Path("/nonexistent"), config=config.to_dict(), status="completed",
                      reason="", epochs=epochs)


@pytest.mark.parametrize("changes", [
    dict(validation="holdout", validation_size=5000, train_size=0),
    dict(validation="holdout", validation_size=2000, train_size=700),
    dict(validation="test", train_size=0),
    dict(validation="none", patience=0, train_size=300),
])
def test_split_sizes_match_the_arrays_make_splits_cuts(mnist, changes):
    config = config_of("lenet5", **changes)
    splits = make_splits(mnist, config)
    n_val = 0 if splits.x_val is None else len(splits.x_val)
    assert split_sizes(config) == (len(splits.x_train), n_val)


def test_every_model_has_a_baseline():
    assert set(BASELINES) == set(MODEL_NAMES)


def test_baseline_follows_the_cost_model():
    config = config_of("lenet5", train_size=4000, batch_size=64, validation="holdout", validation_size=1000)
    cost = BASELINES["lenet5"]
    expected = (math.ceil(4000 / 64) * cost.step_seconds + 4000 * cost.sample_seconds
                + math.ceil(1000 / 64) * cost.val_step_seconds + 1000 * cost.val_sample_seconds)
    assert baseline_seconds(config) == pytest.approx(expected)
    assert baseline_seconds(config.replace(train_size=8000)) > baseline_seconds(config)


ISSUE_17_SECONDS = 217  # four full-batch epochs of the 4,096-unit MLP on every image, as measured in issue 17


def test_a_wider_model_pays_its_extra_arithmetic_per_image():
    preset, wide = config_of("mlp"), config_of("mlp", hidden_units=4096)
    assert scaled_cost(preset) == BASELINES["mlp"]  # the preset's own architecture: the measured baseline as it is
    extra = (training_flops(wide) - training_flops(preset)) / FLOPS_PER_SECOND
    assert scaled_cost(wide).sample_seconds == pytest.approx(BASELINES["mlp"].sample_seconds + extra)
    assert scaled_cost(wide).val_sample_seconds == pytest.approx(BASELINES["mlp"].val_sample_seconds + extra / 3)
    narrow = scaled_cost(config_of("mlp", hidden_units=16))
    assert 0 < narrow.sample_seconds < BASELINES["mlp"].sample_seconds


def test_the_issues_runaway_is_estimated_near_what_it_took():
    config = config_of("mlp", hidden_units=4096, batch_size=0, epochs=4)
    seconds = run_seconds(config, estimate_epoch(config).seconds)
    assert 0.8 * ISSUE_17_SECONDS <= seconds <= 1.5 * ISSUE_17_SECONDS  # it said 36 s before


def test_without_runs_of_the_model_the_baseline_is_used_and_said():
    config = config_of("mlp")
    other_model = saved_run(config_of("lenet5"), [50.0, 50.0])
    estimate = estimate_epoch(config, [other_model])
    assert estimate.source == BASELINE and "baseline timing of `mlp`" in estimate.detail
    assert estimate.seconds == pytest.approx(baseline_seconds(config))


def test_earlier_runs_scale_the_baseline_by_how_fast_this_machine_ran_them():
    earlier = config_of("lenet5", train_size=2000, batch_size=32)
    # This machine ran it 3x slower than the baseline (the first epoch, tracing the graph, is ignored).
    run = saved_run(earlier, [100.0, 3 * baseline_seconds(earlier), 3 * baseline_seconds(earlier)])
    config = config_of("lenet5", train_size=6000, batch_size=128)
    estimate = estimate_epoch(config, [run])
    assert estimate.source == MEASURED
    assert "2 epoch(s) of 1 earlier" in estimate.detail
    assert estimate.seconds == pytest.approx(3 * baseline_seconds(config))


def test_runs_with_damaged_configs_or_other_augmentation_are_ignored():
    config = config_of("mlp")
    damaged = saved_run(config, [1.0, 1.0])
    damaged.config["learning_rate"] = "broken"
    augmented = saved_run(config.replace(augment_rotation=10.0), [99.0, 99.0])
    assert estimate_epoch(config, [damaged, augmented]).source == BASELINE


def test_a_runs_estimate_adds_start_up_scoring_and_saving_to_its_epochs():
    from core.training.epoch_estimate import SAVING_SECONDS, START_UP_SECONDS, run_seconds

    config = config_of("softmax", train_size=6000, validation="none", epochs=3)
    assert run_seconds(config, 2.0) == pytest.approx(START_UP_SECONDS + 3 * 2.0 + 10_000 / 3 * 2.0 / 6000 + SAVING_SECONDS)
    assert run_seconds(config, 0.0) >= START_UP_SECONDS  # never "0 s": a run always starts and saves
